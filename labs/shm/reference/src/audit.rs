//! The server's audit log: one JSON object per line, to `$SHM_IPC_LOG` when set; warnings
//! (a lying pid, a refused kill, a rejected client) also go to stderr.
//!
//! It only formats and appends lines. It must never take anything a client wrote as the
//! identity of that client: identities come from the kernel (SO_PEERCRED).

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;

#[derive(Debug)]
pub struct Audit {
    file: Option<Mutex<File>>,
}

/// A value in a log line.
#[derive(Debug, Clone)]
pub enum V<'a> {
    I(i64),
    S(&'a str),
}

impl Audit {
    pub fn open() -> Result<Self, String> {
        let file = match crate::rendezvous::log_path() {
            None => None,
            Some(p) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&p)
                    .map_err(|e| format!("cannot open the audit log {}: {e}", p.display()))?,
            )),
        };
        Ok(Self { file })
    }

    /// Log `event` with `fields`; `warn` also prints it on stderr.
    pub fn log(&self, event: &str, fields: &[(&str, V<'_>)], warn: bool) {
        let mut line = format!("{{\"event\":{}", quote(event));
        for (k, v) in fields {
            match v {
                V::I(n) => line.push_str(&format!(",{}:{n}", quote(k))),
                V::S(s) => line.push_str(&format!(",{}:{}", quote(k), quote(s))),
            }
        }
        line.push_str("}\n");
        if let Some(f) = &self.file {
            let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
            let _ = f.write_all(line.as_bytes());
        }
        if warn {
            eprint!("server: {line}");
        }
    }
}

fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if (c as u32) < 0x20 => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}
