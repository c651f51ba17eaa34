//! The proxy's log format (one JSON object per line) and the readers of both logs: the proxy's
//! and the server's ground truth. Readers name the line and the field that is wrong; they never
//! guess a missing field.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::kvstore::TruthRecord;

/// One line of the proxy's log: one message the proxy saw or made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyRecord {
    /// "c2s" (client to server), "s2c" (server to client) or "p2c" (a reply the proxy made).
    pub dir: String,
    /// Connection number, 0-based in accept order.
    pub conn: u64,
    /// For "c2s": 1-based count of client-to-server messages since the proxy started (what
    /// fault plans call message k). Absent or null for the other directions.
    #[serde(default)]
    pub k: Option<u64>,
    pub src: u16,
    pub dst: u16,
    #[serde(rename = "type")]
    pub kind: u16,
    pub seq: u32,
    /// Payload bytes as received (packet length minus the header).
    pub len: usize,
    /// FNV-1a 64 of the payload as received, 16 lower-case hex digits.
    pub hash: String,
    /// Microseconds since the proxy started (monotonic).
    pub t_us: u64,
    /// What the proxy did: forward, deny, reply, or the fault's name.
    pub action: String,
}

/// The part of a record that must be the same in two runs of the same input: everything but
/// the time and the connection number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normal {
    pub dir: String,
    pub k: Option<u64>,
    pub src: u16,
    pub dst: u16,
    pub kind: u16,
    pub seq: u32,
    pub len: usize,
    pub hash: String,
    pub action: String,
}

impl ProxyRecord {
    pub fn normal(&self) -> Normal {
        Normal {
            dir: self.dir.clone(),
            k: self.k,
            src: self.src,
            dst: self.dst,
            kind: self.kind,
            seq: self.seq,
            len: self.len,
            hash: self.hash.clone(),
            action: self.action.clone(),
        }
    }
}

impl std::fmt::Display for Normal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = self.k.map(|k| format!(" k={k}")).unwrap_or_default();
        write!(
            f,
            "{}{k} {}->{} {} seq={} len={} hash={} action={}",
            self.dir,
            self.src,
            self.dst,
            crate::frame::kind_name(self.kind),
            self.seq,
            self.len,
            self.hash,
            self.action
        )
    }
}

#[derive(Debug, Error)]
pub enum TraceError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} line {line}: {message}")]
    Line {
        path: String,
        line: usize,
        message: String,
    },
}

/// Logs larger than this are refused unread (a check writes a few hundred lines).
const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;

fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, TraceError> {
    let name = path.display().to_string();
    if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
        return Err(TraceError::Line {
            path: name,
            line: 0,
            message: format!(
                "the file is larger than {MAX_LOG_BYTES} bytes; a check's log is far smaller"
            ),
        });
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(TraceError::Read { path: name, source }),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(line).map_err(|err| TraceError::Line {
            path: name.clone(),
            line: i + 1,
            message: err.to_string(),
        })?;
        out.push(record);
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(TraceError::Line {
            path: name,
            line: text.lines().count(),
            message: "the last line does not end with a newline (write whole lines)".to_owned(),
        });
    }
    Ok(out)
}

/// Reads a proxy log (a missing file reads as empty).
pub fn read_proxy_log(path: &Path) -> Result<Vec<ProxyRecord>, TraceError> {
    let records: Vec<ProxyRecord> = read_lines(path)?;
    for (i, r) in records.iter().enumerate() {
        let bad = |message: String| TraceError::Line {
            path: path.display().to_string(),
            line: i + 1,
            message,
        };
        if !matches!(r.dir.as_str(), "c2s" | "s2c" | "p2c") {
            return Err(bad(format!("dir is {:?}, not c2s, s2c or p2c", r.dir)));
        }
        if r.dir == "c2s" && r.k.is_none() {
            return Err(bad("a c2s line needs k (its message number)".to_owned()));
        }
        if r.hash.len() != 16 || !r.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(format!("hash {:?} is not 16 hex digits", r.hash)));
        }
    }
    Ok(records)
}

/// Reads a server's ground-truth log (a missing file reads as empty).
pub fn read_truth(path: &Path) -> Result<Vec<TruthRecord>, TraceError> {
    read_lines(path)
}
