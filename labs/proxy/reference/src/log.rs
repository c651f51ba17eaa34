//! The message log: one JSON object per line. Lines are gathered per connection and written in
//! one `write` before anything is sent to that connection's client, so the log is complete
//! whenever a reply has reached the client. It records each message as it arrived; what the
//! proxy did to it goes in `action`.

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::wire::{self, Header};

#[derive(Serialize)]
struct Line<'a> {
    dir: &'a str,
    conn: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    k: Option<u64>,
    src: u16,
    dst: u16,
    #[serde(rename = "type")]
    kind: u16,
    seq: u32,
    len: usize,
    hash: String,
    t_us: u64,
    action: &'a str,
}

pub struct Log {
    file: Mutex<File>,
    started: Instant,
}

impl Log {
    pub fn new(file: File) -> Log {
        Log {
            file: Mutex::new(file),
            started: Instant::now(),
        }
    }

    /// Appends the line of one packet (its header must be readable) moving in `dir` to `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn line(
        &self,
        out: &mut Vec<u8>,
        dir: &str,
        conn: u64,
        k: Option<u64>,
        h: &Header,
        packet: &[u8],
        action: &str,
    ) {
        let payload = &packet[wire::HEADER_LEN.min(packet.len())..];
        let line = Line {
            dir,
            conn,
            k,
            src: h.src,
            dst: h.dst,
            kind: h.kind,
            seq: h.seq,
            len: payload.len(),
            hash: wire::hash(payload),
            t_us: self.started.elapsed().as_micros() as u64,
            action,
        };
        if serde_json::to_writer(&mut *out, &line).is_ok() {
            out.push(b'\n');
        }
    }

    /// Writes the gathered lines (whole lines, one write on an O_APPEND file) and empties `out`.
    pub fn flush(&self, out: &mut Vec<u8>) {
        if out.is_empty() {
            return;
        }
        if let Ok(mut file) = self.file.lock()
            && let Err(e) = file.write_all(out)
        {
            eprintln!("proxy: cannot write the log: {e}");
        }
        out.clear();
    }
}
