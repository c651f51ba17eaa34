//! A bounded fsd client: connect within a deadline, send one request line, read one reply.
//!
//! Every read and write has a timeout, so a server that stalls or floods cannot hold a tool
//! forever. It never interprets a reply beyond the wire format (that is the caller's verdict).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::wire::{self, Header, MAX_LINE, Reply, WireError};

/// How long a tool waits for one reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request got no reply.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot connect to {path}: {source} (is fsd running in that directory?)")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("talking to fsd: {0}")]
    Io(#[from] std::io::Error),
    #[error("fsd closed the connection without a reply")]
    Closed,
    #[error("fsd's reply header is longer than {MAX_LINE} bytes")]
    LongLine,
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("fsd answered {0}")]
    Unexpected(String),
}

/// Connect to a Unix socket, retrying while it does not exist yet, until `deadline`.
pub fn connect_until(path: &Path, deadline: Instant) -> Result<UnixStream, ClientError> {
    loop {
        match UnixStream::connect(path) {
            Ok(s) => {
                s.set_read_timeout(Some(REPLY_TIMEOUT))?;
                s.set_write_timeout(Some(REPLY_TIMEOUT))?;
                return Ok(s);
            }
            Err(e)
                if Instant::now() < deadline
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                    ) =>
            {
                // The socket is not there yet: poll again shortly (bounded by the deadline).
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(source) => {
                return Err(ClientError::Connect {
                    path: path.display().to_string(),
                    source,
                });
            }
        }
    }
}

/// Send one request line on `stream` and read its reply.
pub fn request(stream: &UnixStream, line: &str) -> Result<Reply, ClientError> {
    let mut w = stream;
    w.write_all(line.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut header = Vec::new();
    let n = (&mut reader)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut header)?;
    if n == 0 {
        return Err(ClientError::Closed);
    }
    if header.last() != Some(&b'\n') {
        return Err(if n >= MAX_LINE {
            ClientError::LongLine
        } else {
            ClientError::Closed
        });
    }
    header.pop();
    let text = String::from_utf8_lossy(&header);
    match wire::parse_header(&text)? {
        Header::Done(reply) => Ok(reply),
        Header::Ok(len) => {
            let mut body = vec![0; len];
            reader.read_exact(&mut body)?;
            Ok(Reply::Ok(body))
        }
    }
}

/// Connect to `socket` and ask for `name`.
pub fn read_file(socket: &Path, name: &str, deadline: Instant) -> Result<Reply, ClientError> {
    let stream = connect_until(socket, deadline)?;
    request(&stream, &wire::read_request(name)?)
}
