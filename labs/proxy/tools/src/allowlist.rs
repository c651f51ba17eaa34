//! The policy file of learning and enforcing runs: the set of (source, destination, type) triples
//! a run saw, as JSON `{"allow":[{"src":1,"dst":2,"type":1},...]}`. Format only; deciding what
//! to allow is the proxy's (and the checker's) business.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Triple {
    pub src: u16,
    pub dst: u16,
    #[serde(rename = "type")]
    pub kind: u16,
}

impl std::fmt::Display for Triple {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "({}, {}, {})",
            self.src,
            self.dst,
            crate::frame::kind_name(self.kind)
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowlist {
    pub allow: BTreeSet<Triple>,
}

impl Allowlist {
    pub fn read(path: &Path) -> Result<Allowlist, String> {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > 16 * 1024 * 1024) {
            return Err(format!(
                "{} is larger than 16 MiB: not a policy",
                path.display()
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a policy ({{\"allow\":[{{\"src\":..,\"dst\":..,\"type\":..}}]}}): {e}",
                path.display()
            )
        })
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}
