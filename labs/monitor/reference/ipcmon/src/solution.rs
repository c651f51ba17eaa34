//! The solution description: which programs the monitor starts, with which command, and which
//! static channels connect them (like an init program's configuration).
//!
//! ```json
//! { "idl": "lab.idl", "policy": "policy.txt", "audit": "audit.jsonl",
//!   "programs": [ { "name": "server", "command": ["./server"], "daemon": true },
//!                 { "name": "alice",  "command": ["./client", "2", "3"], "stdout": "alice.out" } ],
//!   "channels": [ { "name": "calc", "client": "alice", "server": "server" } ] }
//! ```
//! Relative paths (idl, policy, audit, stdout) are relative to the solution file's directory.
//! `daemon` programs are stopped (SIGTERM) once every other program has ended. `uid`/`gid`
//! are applied only when the monitor runs as root.
//!
//! This module reads and validates; it must never start anything.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One program to start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProgramSpec {
    /// Its name: what policies and the audit log call it.
    pub name: String,
    /// argv; the first word is the executable.
    pub command: Vec<String>,
    /// Stopped when the other programs have ended.
    #[serde(default)]
    pub daemon: bool,
    /// File that receives its stdout (default: the monitor's stdout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// Numeric uid to run as (root monitors only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Numeric gid to run as (root monitors only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

/// One static channel: `client` may call the endpoints `server` serves through it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// Channel name, unique in the solution (the client looks its end up by it).
    pub name: String,
    /// Program holding the client end.
    pub client: String,
    /// Program holding the server end.
    pub server: String,
}

/// The whole solution.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Solution {
    /// Interface description file.
    pub idl: String,
    /// Policy file.
    pub policy: String,
    /// Audit log (JSON lines, appended).
    pub audit: String,
    /// Programs, started in this order.
    pub programs: Vec<ProgramSpec>,
    /// Static channels.
    pub channels: Vec<ChannelSpec>,
    /// Directory the relative paths are resolved against (set by `load`).
    #[serde(skip)]
    pub base: PathBuf,
}

/// A solution that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SolutionError {
    /// The file could not be read.
    #[error("cannot read solution {path}: {source}")]
    Read {
        /// Path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid JSON of the expected shape.
    #[error("solution {path} is not valid: {source}")]
    Json {
        /// Path.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// Valid JSON that makes no sense.
    #[error("solution: {0}")]
    Invalid(String),
}

fn is_program_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= super::wire::SENDER_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Solution {
    /// Reads, parses and validates a solution file.
    pub fn load(path: &Path) -> Result<Solution, SolutionError> {
        let text = std::fs::read_to_string(path).map_err(|source| SolutionError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut s: Solution =
            serde_json::from_str(&text).map_err(|source| SolutionError::Json {
                path: path.display().to_string(),
                source,
            })?;
        s.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        s.validate()?;
        Ok(s)
    }

    /// Checks names, references and commands.
    pub fn validate(&self) -> Result<(), SolutionError> {
        let bad = |m: String| Err(SolutionError::Invalid(m));
        for (i, p) in self.programs.iter().enumerate() {
            if !is_program_name(&p.name) {
                return bad(format!(
                    "program name `{}`: use 1-16 of [A-Za-z0-9_-]",
                    p.name
                ));
            }
            if self.programs[..i].iter().any(|q| q.name == p.name) {
                return bad(format!("program `{}` appears twice", p.name));
            }
            if p.command.is_empty() {
                return bad(format!("program `{}` has an empty command", p.name));
            }
        }
        for (i, c) in self.channels.iter().enumerate() {
            if !is_program_name(&c.name) {
                return bad(format!(
                    "channel name `{}`: use 1-16 of [A-Za-z0-9_-]",
                    c.name
                ));
            }
            if self.channels[..i].iter().any(|d| d.name == c.name) {
                return bad(format!("channel `{}` appears twice", c.name));
            }
            for who in [&c.client, &c.server] {
                if !self.programs.iter().any(|p| &p.name == who) {
                    return bad(format!("channel `{}` names no program `{who}`", c.name));
                }
            }
            if c.client == c.server {
                return bad(format!(
                    "channel `{}` connects `{}` to itself",
                    c.name, c.client
                ));
            }
        }
        Ok(())
    }

    /// A path from the file, resolved against its directory.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }
}
