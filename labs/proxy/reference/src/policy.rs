//! Least authority from observation: a learning run records every (src, dst, type) triple it
//! forwards; an enforcing run allows only those. A rule is the whole triple: a type allowed for
//! one client is not allowed for another.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::wire::Header;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Triple {
    pub src: u16,
    pub dst: u16,
    #[serde(rename = "type")]
    pub kind: u16,
}

impl Triple {
    pub fn of(h: &Header) -> Triple {
        Triple {
            src: h.src,
            dst: h.dst,
            kind: h.kind,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    allow: BTreeSet<Triple>,
}

pub enum Policy {
    /// Forward everything, record nothing.
    Open,
    Learn {
        path: PathBuf,
        seen: Mutex<BTreeSet<Triple>>,
    },
    Enforce {
        allow: BTreeSet<Triple>,
    },
}

impl Policy {
    pub fn learn(path: &Path) -> Policy {
        Policy::Learn {
            path: path.to_owned(),
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn enforce(path: &Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: File = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a policy: {e}", path.display()))?;
        Ok(Policy::Enforce { allow: file.allow })
    }

    /// May this message pass? Learning records it first (the file is up to date before the
    /// message moves on).
    pub fn admit(&self, h: &Header) -> bool {
        match self {
            Policy::Open => true,
            Policy::Enforce { allow } => allow.contains(&Triple::of(h)),
            Policy::Learn { path, seen } => {
                let Ok(mut seen) = seen.lock() else {
                    return true;
                };
                if seen.insert(Triple::of(h)) {
                    let file = File {
                        allow: seen.clone(),
                    };
                    if let Err(e) = save(path, &file) {
                        eprintln!("proxy: cannot write the learned policy: {e}");
                    }
                }
                true
            }
        }
    }
}

/// Writes next to the file, then renames: a reader never sees half a policy.
fn save(path: &Path, file: &File) -> Result<(), String> {
    let text = serde_json::to_string(file).map_err(|e| e.to_string())? + "\n";
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}
