//! The fsd wire protocol as the lab's tools speak it: request lines and the replies they get.
//!
//! One request is one line of ASCII ending in `\n`, at most [`MAX_LINE`] bytes:
//! `READ <name>` (reply `OK <n>\n` then exactly n bytes, or `DENIED <reason>\n`, or
//! `ERROR <reason>\n`) and `CACHE` (reply `CACHE <n>\n`, the number of cached answers).
//! This module only formats and parses; it never touches a socket.

use thiserror::Error;

/// Longest request or reply header line, newline included.
pub const MAX_LINE: usize = 4096;
/// Largest file body a tool accepts in an `OK` reply (the lab's files are a few bytes).
pub const MAX_BODY: usize = 1 << 20;
/// File name of fsd's socket inside the run directory.
pub const FSD_SOCKET: &str = "fsd.sock";
/// The well-known path of permd's socket in the starter design (the impostor binds it).
pub const PERMD_SOCKET: &str = "permd.sock";

/// A reply from fsd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `OK <n>` and the n bytes of the file.
    Ok(Vec<u8>),
    /// `DENIED <reason>`: the request was refused.
    Denied(String),
    /// `ERROR <reason>`: the request was allowed or malformed but could not be served.
    Error(String),
    /// `CACHE <n>`: how many answers fsd holds in its cache.
    Cache(u64),
}

/// What was wrong with a reply header.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    #[error(
        "the reply line is not `OK <n>`, `DENIED <reason>`, `ERROR <reason>` or `CACHE <n>`: {0:?}"
    )]
    BadReply(String),
    #[error("the reply announces {0} bytes, more than the {MAX_BODY} a tool accepts")]
    TooLong(u64),
    #[error("a file name must be non-empty, on one line, and shorter than {MAX_LINE} bytes")]
    BadName,
}

/// The header of a reply, before any body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// `OK <n>`: n body bytes follow.
    Ok(usize),
    /// Any reply without a body.
    Done(Reply),
}

/// The request line that asks for a file, newline included.
pub fn read_request(name: &str) -> Result<String, WireError> {
    if name.is_empty() || name.contains('\n') || name.len() + 6 > MAX_LINE {
        return Err(WireError::BadName);
    }
    Ok(format!("READ {name}\n"))
}

/// The request line that asks for the cache size.
pub const CACHE_REQUEST: &str = "CACHE\n";

/// Parse a reply header line (without its newline).
pub fn parse_header(line: &str) -> Result<Header, WireError> {
    let bad = || WireError::BadReply(line.chars().take(120).collect());
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    match word {
        "OK" => {
            let n: u64 = rest.parse().map_err(|_| bad())?;
            if n > MAX_BODY as u64 {
                return Err(WireError::TooLong(n));
            }
            Ok(Header::Ok(
                usize::try_from(n).map_err(|_| WireError::TooLong(n))?,
            ))
        }
        "DENIED" => Ok(Header::Done(Reply::Denied(rest.to_string()))),
        "ERROR" => Ok(Header::Done(Reply::Error(rest.to_string()))),
        "CACHE" => Ok(Header::Done(Reply::Cache(rest.parse().map_err(|_| bad())?))),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        assert_eq!(parse_header("OK 12"), Ok(Header::Ok(12)));
        assert_eq!(
            parse_header("DENIED not a reader"),
            Ok(Header::Done(Reply::Denied("not a reader".into())))
        );
        assert_eq!(parse_header("CACHE 3"), Ok(Header::Done(Reply::Cache(3))));
        assert!(parse_header("OK x").is_err());
        assert!(parse_header("HELLO").is_err());
        assert_eq!(
            parse_header("OK 99999999"),
            Err(WireError::TooLong(99_999_999))
        );
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(read_request("a.txt"), Ok("READ a.txt\n".into()));
        assert!(read_request("").is_err());
        assert!(read_request("a\nb").is_err());
    }
}
