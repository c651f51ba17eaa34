//! The grader's checkers (`proxy-check <what>`): each drives the proxy under test through the
//! lab's sockets in the run directory, reads the proxy's log and the server's ground truth, and
//! returns a verdict with a short explanation for the student. Checkers never sleep to
//! synchronise, never wait without a deadline and never leave a process behind.

pub mod faults;
pub mod forward;
pub mod policy;

use std::path::{Path, PathBuf};

/// A checker's verdict: Ok(what passed) or Err(what failed and what to do).
pub type Verdict = Result<String, String>;

/// The fixed file names of a check's run directory (lab.toml uses the same).
#[derive(Debug, Clone)]
pub struct RunDir(pub PathBuf);

impl RunDir {
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// The proxy under test (A), its log, its server and that server's ground truth.
    pub fn proxy(&self) -> PathBuf {
        self.file("proxy.sock")
    }
    pub fn proxy_log(&self) -> PathBuf {
        self.file("proxy.jsonl")
    }
    pub fn server(&self) -> PathBuf {
        self.file("server.sock")
    }
    pub fn truth(&self) -> PathBuf {
        self.file("truth.jsonl")
    }
    /// The second proxy (B) and its server, for replay and diff.
    pub fn proxy2(&self) -> PathBuf {
        self.file("proxy2.sock")
    }
    pub fn proxy2_log(&self) -> PathBuf {
        self.file("proxy2.jsonl")
    }
    pub fn truth2(&self) -> PathBuf {
        self.file("truth2.jsonl")
    }
    /// A server with no proxy in front, for the direct path.
    pub fn direct(&self) -> PathBuf {
        self.file("direct.sock")
    }
    pub fn plan(&self) -> PathBuf {
        self.file("plan.json")
    }
    pub fn policy(&self) -> PathBuf {
        self.file("policy.json")
    }
    pub fn learned(&self) -> PathBuf {
        self.file("learned.json")
    }
}

/// Connects to the proxy under test, or says why not.
pub(crate) fn connect_proxy(path: &Path) -> Result<crate::client::Client, String> {
    crate::client::Client::connect(path).map_err(|e| {
        format!(
            "cannot connect to your proxy at {}: {e}. It must listen there (--listen) with a \
             SOCK_SEQPACKET socket (handout: 1.2 Two sockets and a log)",
            path.display()
        )
    })
}

/// Connects to a lab server (not student code).
pub(crate) fn connect_lab(path: &Path) -> Result<crate::client::Client, String> {
    crate::client::Client::connect(path).map_err(|e| {
        format!(
            "the lab's server at {} is not up ({e}); report this to the course staff",
            path.display()
        )
    })
}

/// A packet in words, for explanations.
pub(crate) fn describe(packet: &[u8]) -> String {
    match crate::frame::Header::peek(packet) {
        Err(e) => format!("not a message ({e})"),
        Ok(h) => format!(
            "{} {}->{} seq={} len={} ({} bytes in the packet)",
            crate::frame::kind_name(h.kind),
            h.src,
            h.dst,
            h.seq,
            h.len,
            packet.len()
        ),
    }
}
