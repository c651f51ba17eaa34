//! The lab file exactly as written, before validation. Every table denies unknown keys so a typo
//! (`point = 2`) is an error with a line number instead of a silently ignored setting. Values that
//! need checks beyond their type keep their position (`Spanned`) so errors can name the line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLab {
    pub lab: RawMeta,
    pub users: Option<RawUsers>,
    #[serde(default)]
    pub roles: Vec<S<RawRole>>,
    #[serde(default)]
    pub defaults: RawDefaults,
    pub build: Option<RawBuild>,
    #[serde(default)]
    pub programs: BTreeMap<String, S<Vec<String>>>,
    #[serde(default)]
    pub fixtures: Vec<S<RawFixture>>,
    pub parts: S<Vec<S<RawPart>>>,
    pub checks: S<Vec<S<RawCheck>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeta {
    pub name: S<String>,
    pub title: String,
    pub handout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsers {
    pub owner: S<String>,
    pub confined: S<String>,
    #[serde(default)]
    pub confined_groups: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    pub id: S<String>,
    pub user: S<String>,
    #[serde(default)]
    pub groups: Vec<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    pub timeout: Option<S<String>>,
    pub ready_timeout: Option<S<String>>,
    pub exit_timeout: Option<S<String>>,
    pub output_cap: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuild {
    pub command: S<Vec<String>>,
    #[serde(default)]
    pub cargo: bool,
    pub timeout: Option<S<String>>,
    pub seed: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFixture {
    pub id: S<String>,
    pub path: S<String>,
    #[serde(default)]
    pub dir: bool,
    pub content: Option<String>,
    #[serde(default)]
    pub randomise: bool,
    pub owner: Option<S<String>>,
    pub group: Option<S<String>>,
    pub mode: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPart {
    pub id: S<String>,
    pub title: String,
    pub points: S<f64>,
}

/// The keys every `[[checks]]` table has, whatever its kind. Any other key belongs to the kind,
/// which reads it from the check's table with its own parameter struct (see `kind`), so this
/// struct does not deny unknown keys: the kind does.
pub const COMMON_CHECK_KEYS: &[&str] = &[
    "id",
    "part",
    "title",
    "points",
    "kind",
    "depends_on",
    "hint",
    "hints",
    "timeout",
    "visibility",
];

#[derive(Debug, Deserialize)]
pub struct RawCheck {
    pub id: S<String>,
    pub part: S<String>,
    pub title: String,
    pub points: S<f64>,
    pub kind: S<String>,
    #[serde(default)]
    pub depends_on: Vec<S<String>>,
    pub hint: Option<String>,
    #[serde(default)]
    pub hints: Vec<S<RawHint>>,
    pub timeout: Option<S<String>>,
    pub visibility: Option<S<String>>,
}

/// A conditional hint: shown for a failed check when every condition given holds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHint {
    pub hint: String,
    pub stdout_empty: Option<bool>,
    pub stderr_empty: Option<bool>,
    pub stdout_contains: Option<String>,
    pub stdout_starts_with: Option<String>,
    pub stderr_contains: Option<String>,
    pub exit_code: Option<i64>,
    pub timed_out: Option<bool>,
}
