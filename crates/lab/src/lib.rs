//! Lab definitions: the data file (`labs/<lab>/lab.toml`) that says what to build, which fixtures to
//! lay out, and which checks to run for how many points. This module reads and validates it up front,
//! so a mistake in the file stops grading with the file, the line and what to fix, before any
//! student code runs. It never runs anything itself.

pub mod kind;
mod raw;
pub mod units;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

pub use kind::{KindCx, KindDef, Kinds, Params, Uses};

/// A validated lab definition.
#[derive(Debug, Clone)]
pub struct Lab {
    pub name: String,
    pub title: String,
    pub handout: Option<String>,
    /// The users student code runs as, by role; the first role owns the build and the lab's
    /// files unless a fixture says otherwise. Empty: the lab needs no users.
    pub roles: Vec<RoleDef>,
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

/// One role of a lab: a name checks and fixtures use, the user it maps to, its groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDef {
    pub id: String,
    pub user: String,
    /// Supplementary groups the user is a member of (created when missing).
    pub groups: Vec<String>,
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
    /// A trusted tree of the lab's own (its reference), relative to the lab file: a new
    /// submission's cargo build starts from that tree's sealed build output, so only the
    /// student's own crates are compiled (see `engine::build_seed`).
    pub seed: Option<PathBuf>,
}

/// A role id, as declared in `[[roles]]` (or `owner`/`confined` of a `[users]` table).
pub type Role = String;

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

#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub part: String,
    pub title: String,
    pub points: f64,
    pub depends_on: Vec<String>,
    pub hint: Option<String>,
    pub hints: Vec<HintRule>,
    pub timeout: Duration,
    /// Who sees the check's result and details, and when (see [`Visibility`]).
    pub visibility: Visibility,
    /// The `kind = "..."` name; the engine's registry runs it.
    pub kind: String,
    /// The kind's own validated parameters.
    pub params: Arc<dyn Params>,
    pub uses: Uses,
}

impl Check {
    /// The kind's parameters as their concrete type (the kind module that made them).
    pub fn params<T: 'static>(&self) -> Option<&T> {
        self.params.as_any().downcast_ref::<T>()
    }

    pub fn is_build(&self) -> bool {
        self.uses.is_build
    }
}

/// When a student may see a check's result and details: the four values Gradescope defines for a
/// test's `visibility`, with the same names. The lab only records it; the reports decide what
/// each reader is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Visibility {
    /// Always shown (the default).
    #[default]
    Visible,
    /// Never shown to students; instructors see it.
    Hidden,
    /// Shown once the assignment's due date has passed.
    AfterDueDate,
    /// Shown once the instructor publishes the grades.
    AfterPublished,
}

impl Visibility {
    /// Every value, in the order the lab file reference lists them.
    pub const ALL: [Visibility; 4] = [
        Visibility::Visible,
        Visibility::Hidden,
        Visibility::AfterDueDate,
        Visibility::AfterPublished,
    ];

    /// The name a lab file (and Gradescope) uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::Hidden => "hidden",
            Visibility::AfterDueDate => "after_due_date",
            Visibility::AfterPublished => "after_published",
        }
    }

    /// How closed it is: visible 0, after the due date or publication 1, hidden 2. A check may
    /// depend only on checks no more closed than itself, or a skip would tell their result.
    pub fn closedness(self) -> u8 {
        match self {
            Visibility::Visible => 0,
            Visibility::AfterDueDate | Visibility::AfterPublished => 1,
            Visibility::Hidden => 2,
        }
    }

    /// The value a lab file names, if it is one.
    pub fn from_name(name: &str) -> Option<Visibility> {
        Visibility::ALL.into_iter().find(|v| v.as_str() == name)
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

impl Lab {
    /// Reads and validates a lab file.
    pub fn load(path: &Path, kinds: &Kinds) -> Result<Lab, LabError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Lab::parse(&text, &path.display().to_string(), kinds)
    }

    /// Validates lab text; `source` names it in messages.
    pub fn parse(text: &str, source: &str, kinds: &Kinds) -> Result<Lab, LabError> {
        validate::parse(text, source, kinds)
    }

    /// The role that owns the build and the lab's files by default: the first one declared.
    pub fn primary_role(&self) -> Option<&RoleDef> {
        self.roles.first()
    }

    pub fn role(&self, id: &str) -> Option<&RoleDef> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// Whether a check runs student code as a role other than the primary one: only root can
    /// do that, so without root the check is skipped.
    pub fn needs_root(&self, check: &Check) -> bool {
        let primary = self.primary_role().map(|r| r.id.as_str());
        check.uses.roles.iter().any(|r| Some(r.as_str()) != primary)
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

/// A relative path that stays inside the directory it is joined to.
pub fn inside_path(path: &str) -> bool {
    validate::inside_path(path)
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
