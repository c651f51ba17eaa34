//! `proxy-kvclient --socket PATH <request>`: sends one request (to the server or a proxy) and
//! prints the reply in words; exit 0 for a success reply, 1 for NOTFOUND/ERROR or no reply, 2
//! for bad arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::client::{Client, Request};
use crate::frame::{self, Header, kind};

/// Talk to the lab's key-value server, directly or through a proxy.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Socket to connect to (the server's or the proxy's).
    #[arg(long)]
    socket: PathBuf,
    /// Source id in the header.
    #[arg(long, default_value_t = frame::CLIENT)]
    src: u16,
    /// Sequence number in the header.
    #[arg(long, default_value_t = 1)]
    seq: u32,
    #[command(subcommand)]
    request: Req,
}

#[derive(Debug, Subcommand)]
enum Req {
    Get { key: String },
    Put { key: String, value: String },
    Del { key: String },
    Incr { key: String },
    Echo { text: String },
    Flush,
}

pub fn main() -> ExitCode {
    let a = Args::parse();
    let (k, payload) = match &a.request {
        Req::Get { key } => (kind::GET, key.as_bytes().to_vec()),
        Req::Put { key, value } => (
            kind::PUT,
            frame::put_payload(key.as_bytes(), value.as_bytes()),
        ),
        Req::Del { key } => (kind::DEL, key.as_bytes().to_vec()),
        Req::Incr { key } => (kind::INCR, key.as_bytes().to_vec()),
        Req::Echo { text } => (kind::ECHO, text.as_bytes().to_vec()),
        Req::Flush => (kind::FLUSH, Vec::new()),
    };
    let request = Request {
        src: a.src,
        kind: k,
        seq: a.seq,
        payload,
    };
    let reply = Client::connect(&a.socket).and_then(|mut c| c.call(&request));
    let reply = match reply {
        Ok(r) => r,
        Err(e) => {
            println!("no reply: {e}");
            return ExitCode::from(1);
        }
    };
    match Header::parse(&reply) {
        Err(e) => {
            println!("bad reply: {e}");
            ExitCode::from(1)
        }
        Ok((h, body)) => {
            let shown = if h.kind == kind::INCR | kind::REPLY && body.len() == 8 {
                let mut b = [0u8; 8];
                b.copy_from_slice(body);
                u64::from_le_bytes(b).to_string()
            } else {
                String::from_utf8_lossy(body).into_owned()
            };
            let head = format!(
                "{} {}->{} seq={}",
                frame::kind_name(h.kind),
                h.src,
                h.dst,
                h.seq
            );
            if shown.is_empty() {
                println!("{head}");
            } else {
                println!("{head} {shown}");
            }
            if h.kind & kind::REPLY != 0 && h.kind != kind::NOTFOUND && h.kind != kind::ERROR {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
