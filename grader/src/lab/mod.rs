//! Lab definitions: the data file (`labs/<lab>/lab.toml`) that says what to build, which fixtures to
//! lay out, and which checks to run for how many points. This module reads and validates it up front,
//! so a mistake in the file stops grading with the file, the line and what to fix, before any
//! student code runs. It never runs anything itself.

mod raw;
pub mod units;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

/// The IPC lab shipped inside the binary, so a fresh machine needs no other file.
pub const EMBEDDED_IPC_LAB: &str = include_str!("../../../labs/ipc/lab.toml");

/// A validated lab definition.
#[derive(Debug, Clone)]
pub struct Lab {
    pub name: String,
    pub title: String,
    pub handout: Option<String>,
    pub users: Option<Users>,
    pub defaults: Defaults,
    pub build: Option<Build>,
    /// Program name -> command template (may hold `{build}` and `{target}`).
    pub programs: BTreeMap<String, Vec<String>>,
    pub fixtures: Vec<Fixture>,
    pub parts: Vec<Part>,
    pub checks: Vec<Check>,
    /// Where the definition came from: a path or `embedded`.
    pub source: String,
    /// FNV-1a 64 digest of the exact text, to tell lab versions apart in reports.
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Users {
    pub owner: String,
    pub confined: String,
    pub confined_groups: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    pub timeout: Duration,
    pub ready_timeout: Duration,
    pub exit_timeout: Duration,
    pub output_cap: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub command: Vec<String>,
    /// A cargo build: private CARGO_HOME, offline crate set, cached target directory.
    pub cargo: bool,
    pub timeout: Duration,
}

/// Who owns a fixture, or whom a program runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The unprivileged owner of the lab's files.
    Owner,
    /// The sandbox user (garfield), who may only use the litterbox.
    Confined,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    pub id: String,
    pub path: PathBuf,
    /// None for a directory.
    pub content: Option<String>,
    pub randomise: bool,
    pub owner: Role,
    pub group: Option<String>,
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub id: String,
    pub title: String,
    pub points: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub id: String,
    pub part: String,
    pub title: String,
    pub points: f64,
    pub depends_on: Vec<String>,
    pub hint: Option<String>,
    pub hints: Vec<HintRule>,
    pub timeout: Duration,
    pub kind: CheckKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// A file of the submission holds exactly this text (one trailing newline allowed).
    FileContents {
        path: String,
        expect: String,
    },
    /// The submission's .gitignore ignores each path (a trailing `/` means a directory).
    Ignores {
        paths: Vec<String>,
    },
    /// A file exists and one of its non-comment lines mentions one of the texts.
    FileMentions {
        path: String,
        any_of: Vec<String>,
    },
    FilesExist {
        paths: Vec<String>,
    },
    /// Informational: which of these tags the submission's git repository has.
    GitTags {
        tags: Vec<String>,
    },
    /// The build command succeeds.
    Build,
    /// The program prints `expect_line` with `{pid}` = its own pid, then is ended by `signal`.
    ListenerPid {
        program: String,
        signal: Signal,
        expect_line: String,
    },
    /// Once the program catches its signals, send `signal`; check the line and/or the exit status.
    Signal {
        program: String,
        signal: Signal,
        expect_line: Option<String>,
        expect_exit: Option<i32>,
    },
    /// Once ready, the program uses at most `max_cpu_share` of a CPU over `window`.
    Idle {
        program: String,
        window: Duration,
        max_cpu_share: f64,
    },
    /// Feed stdin, check stdout (exact or prefix) and that forbidden texts appear in no output.
    Pipe {
        program: String,
        stdin: String,
        run_as: Role,
        expect_stdout: Option<String>,
        expect_stdout_starts_with: Option<String>,
        forbid: Vec<String>,
    },
    /// Run the program on every case of a traversal corpus (Part 2b) and require the outcomes the
    /// corpus lists for `expect_mode`; race cases run `race_runs` times (0 leaves them out).
    Traversal {
        program: String,
        /// The corpus file, relative to the lab file (`traversal.toml`: also built in).
        corpus: String,
        expect_mode: String,
        run_as: Role,
        race_runs: usize,
        /// Only these case ids; empty means every case.
        cases: Vec<String>,
    },
}

impl CheckKind {
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::FileContents { .. } => "file-contents",
            CheckKind::Ignores { .. } => "ignores",
            CheckKind::FileMentions { .. } => "file-mentions",
            CheckKind::FilesExist { .. } => "files-exist",
            CheckKind::GitTags { .. } => "git-tags",
            CheckKind::Build => "build",
            CheckKind::ListenerPid { .. } => "listener-pid",
            CheckKind::Signal { .. } => "signal",
            CheckKind::Idle { .. } => "idle",
            CheckKind::Pipe { .. } => "pipe",
            CheckKind::Traversal { .. } => "traversal",
        }
    }

    /// The program a check runs, if any.
    pub fn program(&self) -> Option<&str> {
        match self {
            CheckKind::ListenerPid { program, .. }
            | CheckKind::Signal { program, .. }
            | CheckKind::Idle { program, .. }
            | CheckKind::Pipe { program, .. }
            | CheckKind::Traversal { program, .. } => Some(program),
            _ => None,
        }
    }

    /// Checks that need root to mean anything (running as the confined user).
    pub fn needs_root(&self) -> bool {
        matches!(
            self,
            CheckKind::Pipe {
                run_as: Role::Confined,
                ..
            } | CheckKind::Traversal {
                run_as: Role::Confined,
                ..
            }
        )
    }
}

/// A hint shown for a failed check when every condition it names holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HintRule {
    pub hint: String,
    pub stdout_empty: Option<bool>,
    pub stderr_empty: Option<bool>,
    pub stdout_contains: Option<String>,
    pub stdout_starts_with: Option<String>,
    pub stderr_contains: Option<String>,
    pub exit_code: Option<i32>,
    pub timed_out: Option<bool>,
}

/// One thing wrong in a lab file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub fix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("cannot read lab file {path}: {source}\n  fix: check the path given to --lab")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_problems(.file, .problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

fn render_problems(file: &str, problems: &[Problem]) -> String {
    let mut out = format!(
        "the lab file {file} is not valid ({} problem{}):",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str(&format!(
            "\n  {file}:{}:{}: {}\n    fix: {}",
            p.line, p.column, p.message, p.fix
        ));
    }
    out
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Owner => "owner",
            Role::Confined => "confined",
        })
    }
}

impl Lab {
    /// Reads and validates a lab file.
    pub fn load(path: &Path) -> Result<Lab, LabError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Lab::parse(&text, &path.display().to_string())
    }

    /// The IPC lab compiled into the grader.
    pub fn embedded() -> Result<Lab, LabError> {
        Lab::parse(EMBEDDED_IPC_LAB, "embedded labs/ipc/lab.toml")
    }

    /// Validates lab text; `source` names it in messages.
    pub fn parse(text: &str, source: &str) -> Result<Lab, LabError> {
        validate::parse(text, source)
    }

    pub fn part(&self, id: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.id == id)
    }

    pub fn fixture(&self, id: &str) -> Option<&Fixture> {
        self.fixtures.iter().find(|f| f.id == id)
    }

    pub fn max_points(&self) -> f64 {
        self.checks.iter().map(|c| c.points).sum()
    }
}

/// FNV-1a, 64 bits: stable across Rust versions (unlike `DefaultHasher`) and needs no crate.
pub fn digest(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Replaces `{name}` placeholders; unknown names are left as they are (validation rejects them
/// up front, so this only sees names it knows).
pub fn expand(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if values.contains_key(&after[..end]) => {
                out.push_str(&values[&after[..end]]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{name}` placeholders a text uses.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                names.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    names
}

#[cfg(test)]
mod tests;
