//! The traversal corpus as data (labs/ipc/traversal.toml): the files a run lays out, the names fed
//! to the cat, and the outcome each mode must produce. This module reads and validates the file,
//! reporting every mistake at once; it never touches the file system beyond reading the corpus.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use lab::units::{parse_duration, parse_mode};

/// The corpus compiled into the grader, so `grader depth` works from any directory.
pub const EMBEDDED_CORPUS: &str = include_str!("../../../traversal.toml");
/// The directory the cat must stay in, relative to where it runs: the lab's contract.
pub const LITTERBOX: &str = "litterbox";
/// Placeholders a corpus text may use.
const PLACEHOLDERS: [&str; 2] = ["rand", "run"];

/// How one run of the cat on one name ended, as the corpus names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Printed exactly the in-box file the case names.
    Prints,
    /// Something from a file outside the litterbox reached the output.
    Escapes,
    /// One MEOW line and nothing from outside.
    Meow,
    /// Still running at the deadline.
    Hangs,
    /// Anything else (a crash, a wrong file, stray output); never expected.
    Other,
}

impl Outcome {
    /// The word the corpus uses.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Prints => "prints",
            Outcome::Escapes => "escapes",
            Outcome::Meow => "meow",
            Outcome::Hangs => "hangs",
            Outcome::Other => "other",
        }
    }

    fn from_word(word: &str) -> Option<Outcome> {
        [
            Outcome::Prints,
            Outcome::Escapes,
            Outcome::Meow,
            Outcome::Hangs,
        ]
        .into_iter()
        .find(|o| o.word() == word)
    }
}

/// The outcomes a case allows in one mode: one for a plain case, several for a race, where each
/// run may end either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation(BTreeSet<Outcome>);

impl Expectation {
    /// Parses `prints`, `meow`, `prints or escapes`, ...
    pub fn parse(text: &str) -> Result<Expectation, String> {
        let mut allowed = BTreeSet::new();
        for word in text.split(" or ").map(str::trim) {
            let outcome = Outcome::from_word(word).ok_or_else(|| {
                format!("`{word}` is not an outcome: use prints, escapes, meow or hangs, joined by ` or `")
            })?;
            allowed.insert(outcome);
        }
        Ok(Expectation(allowed))
    }

    pub fn one(outcome: Outcome) -> Expectation {
        Expectation(BTreeSet::from([outcome]))
    }

    pub fn allows(&self, outcome: Outcome) -> bool {
        self.0.contains(&outcome)
    }

    pub fn outcomes(&self) -> impl Iterator<Item = Outcome> + '_ {
        self.0.iter().copied()
    }

    /// The same expectation for the confined user, who may read nothing outside the litterbox:
    /// every escape becomes a refusal. This is the claim distrustful decomposition makes.
    pub fn as_confined(&self) -> Expectation {
        Expectation(
            self.0
                .iter()
                .map(|&o| {
                    if o == Outcome::Escapes {
                        Outcome::Meow
                    } else {
                        o
                    }
                })
                .collect(),
        )
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|o| o.word()).collect();
        f.write_str(&words.join(" or "))
    }
}

/// Who owns a laid-out file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOwner {
    /// The lab's files' owner (labowner).
    Owner,
    /// The sandbox user (garfield).
    Confined,
    /// Whoever runs the grader: it must be able to rewrite the file while the cat runs.
    Grader,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file with this text (placeholders allowed).
    Content(String),
    Dir,
    /// A symbolic link to `target`; with `swap_with`, the grader swaps it between the two while a
    /// race case runs.
    Link {
        target: String,
        swap_with: Option<String>,
    },
    Fifo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusFile {
    pub id: String,
    /// Relative to the run directory; may hold `{rand}`.
    pub path: String,
    pub kind: FileKind,
    pub owner: FileOwner,
    pub group: Option<String>,
    pub mode: u32,
}

impl CorpusFile {
    /// True for files the cat may print: those under the litterbox.
    pub fn inside(&self) -> bool {
        Path::new(&self.path).starts_with(LITTERBOX) && self.path != LITTERBOX
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub id: String,
    pub title: String,
    /// The name sent on stdin (placeholders allowed), `repeat` times, then `end`.
    pub name: String,
    pub repeat: usize,
    pub end: String,
    /// The in-box file a `prints` outcome must show.
    pub shows: Option<String>,
    /// The swapping link this case races against, if it is a race.
    pub swap: Option<String>,
    /// What to tell a student whose program fails this case.
    pub hint: Option<String>,
    /// Mode name -> what the files' owner must see.
    pub expect: BTreeMap<String, Expectation>,
}

impl Case {
    pub fn is_race(&self) -> bool {
        self.swap.is_some()
    }

    /// The bytes sent on stdin, placeholders filled in.
    pub fn stdin(&self, values: &BTreeMap<String, String>) -> Vec<u8> {
        let name = lab::expand(&self.name, values);
        let mut bytes = name.repeat(self.repeat).into_bytes();
        bytes.extend_from_slice(self.end.as_bytes());
        bytes
    }

    /// The input as a table shows it: placeholders left in, control characters escaped, a
    /// repetition written as a count.
    pub fn shown_input(&self) -> String {
        let mut name = String::with_capacity(self.name.len());
        for c in self.name.chars() {
            match c {
                '\0' => name.push_str("\\0"),
                '\n' => name.push_str("\\n"),
                '\r' => name.push_str("\\r"),
                '\t' => name.push_str("\\t"),
                c if c.is_control() => name.extend(c.escape_unicode()),
                c => name.push(c),
            }
        }
        if self.repeat > 1 {
            format!("{name} × {}", self.repeat)
        } else {
            name
        }
    }

    /// What `mode` must show for the files' owner, or for the confined user.
    pub fn expectation(&self, mode: &str, confined: bool) -> Option<Expectation> {
        let owner = self.expect.get(mode)?;
        Some(if confined {
            owner.as_confined()
        } else {
            owner.clone()
        })
    }
}

/// A validated corpus.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub modes: Vec<String>,
    pub timeout: Duration,
    pub race_runs: usize,
    pub files: Vec<CorpusFile>,
    pub cases: Vec<Case>,
    /// Where it came from, for messages.
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error(
        "cannot read the corpus {path}: {error}\n  fix: check the path (given with --corpus, or `corpus` in the lab file)"
    )]
    Read {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("the corpus {file} is not valid:{}", render(.problems))]
    Invalid { file: String, problems: Vec<String> },
}

fn render(problems: &[String]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

impl Corpus {
    pub fn embedded() -> Result<Corpus, CorpusError> {
        Corpus::parse(EMBEDDED_CORPUS, "embedded labs/ipc/traversal.toml")
    }

    pub fn load(path: &Path) -> Result<Corpus, CorpusError> {
        let text = std::fs::read_to_string(path).map_err(|error| CorpusError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Corpus::parse(&text, &path.display().to_string())
    }

    /// The corpus a lab file names: next to the lab file, or the built-in one when the lab is the
    /// built-in one.
    pub fn for_lab(lab: &lab::Lab, name: &str) -> Result<Corpus, CorpusError> {
        let lab_file = Path::new(&lab.source);
        if lab_file.is_file() {
            let path = lab_file.parent().unwrap_or(Path::new(".")).join(name);
            return Corpus::load(&path);
        }
        if name == "traversal.toml" {
            return Corpus::embedded();
        }
        Err(CorpusError::Read {
            path: PathBuf::from(name),
            error: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "a built-in lab can only use the built-in traversal.toml",
            ),
        })
    }

    pub fn parse(text: &str, source: &str) -> Result<Corpus, CorpusError> {
        let invalid = |problems: Vec<String>| CorpusError::Invalid {
            file: source.to_string(),
            problems,
        };
        let raw: RawCorpus = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(String::new(), |s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: ")
            });
            invalid(vec![format!("{at}{}", e.message().trim())])
        })?;
        let mut problems = Vec::new();
        let corpus = build(raw, source, &mut problems);
        if problems.is_empty() {
            Ok(corpus)
        } else {
            Err(invalid(problems))
        }
    }

    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    pub fn file(&self, id: &str) -> Option<&CorpusFile> {
        self.files.iter().find(|f| f.id == id)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCorpus {
    settings: RawSettings,
    files: Vec<RawFile>,
    cases: Vec<RawCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    modes: Vec<String>,
    timeout: String,
    race_runs: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    id: String,
    path: String,
    content: Option<String>,
    #[serde(default)]
    dir: bool,
    link: Option<String>,
    swap_with: Option<String>,
    #[serde(default)]
    fifo: bool,
    owner: Option<String>,
    group: Option<String>,
    mode: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    id: String,
    title: String,
    name: String,
    repeat: Option<usize>,
    end: Option<String>,
    shows: Option<String>,
    swap: Option<String>,
    hint: Option<String>,
    expect: BTreeMap<String, String>,
}

fn word_like(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Every `{name}` in `text` must be one of `allowed`.
fn check_placeholders(text: &str, allowed: &[&str], what: &str, problems: &mut Vec<String>) {
    for name in lab::placeholders(text) {
        if !allowed.contains(&name) {
            problems.push(format!(
                "{what} uses an unknown placeholder `{{{name}}}` (allowed here: {})",
                allowed
                    .iter()
                    .map(|a| format!("{{{a}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
}

fn build(raw: RawCorpus, source: &str, problems: &mut Vec<String>) -> Corpus {
    let settings = raw.settings;
    if settings.modes.is_empty() {
        problems.push("settings.modes is empty: list the modes, e.g. [\"vulnerable\"]".into());
    }
    for (i, mode) in settings.modes.iter().enumerate() {
        if !word_like(mode) {
            problems.push(format!(
                "mode `{mode}` must be one word of letters, digits, `-` or `_`"
            ));
        }
        if settings.modes[..i].contains(mode) {
            problems.push(format!("mode `{mode}` is listed twice"));
        }
    }
    let timeout = parse_duration(&settings.timeout).unwrap_or_else(|e| {
        problems.push(format!("settings.timeout: {e}"));
        Duration::from_secs(1)
    });

    let files = build_files(raw.files, problems);
    if !files
        .iter()
        .any(|f| f.path == LITTERBOX && f.kind == FileKind::Dir)
    {
        problems.push(format!(
            "no file has path \"{LITTERBOX}\" with `dir = true`: the cat needs its litterbox"
        ));
    }

    let mut cases: Vec<Case> = Vec::new();
    for c in raw.cases {
        let what = format!("case `{}`", c.id);
        if !word_like(&c.id) {
            problems.push(format!("{what}: the id must be one word"));
        }
        if cases.iter().any(|d| d.id == c.id) {
            problems.push(format!("{what} is defined twice"));
        }
        check_placeholders(&c.name, &PLACEHOLDERS, &what, problems);
        let repeat = c.repeat.unwrap_or(1);
        if repeat == 0 {
            problems.push(format!("{what}: `repeat` must be at least 1"));
        }
        let mut expect = BTreeMap::new();
        for (mode, text) in &c.expect {
            if !settings.modes.contains(mode) {
                problems.push(format!(
                    "{what} expects something of mode `{mode}`, which settings.modes does not list"
                ));
            }
            match Expectation::parse(text) {
                Ok(e) => {
                    expect.insert(mode.clone(), e);
                }
                Err(e) => problems.push(format!("{what}, mode `{mode}`: {e}")),
            }
        }
        for mode in &settings.modes {
            if !c.expect.contains_key(mode) {
                problems.push(format!(
                    "{what} says nothing about mode `{mode}`: add `{mode} = \"...\"` to its expect table"
                ));
            }
        }
        let prints = expect.values().any(|e| e.allows(Outcome::Prints));
        match &c.shows {
            Some(id) => match files.iter().find(|f| &f.id == id) {
                Some(f) if f.inside() && matches!(f.kind, FileKind::Content(_)) => {}
                _ => problems.push(format!(
                    "{what}: `shows = \"{id}\"` must name a file with content inside the litterbox"
                )),
            },
            None if prints => problems.push(format!(
                "{what} expects `prints` but has no `shows`: name the file it must print"
            )),
            None => {}
        }
        if let Some(id) = &c.swap
            && !files.iter().any(|f| {
                &f.id == id
                    && matches!(
                        f.kind,
                        FileKind::Link {
                            swap_with: Some(_),
                            ..
                        }
                    )
            })
        {
            problems.push(format!(
                "{what}: `swap = \"{id}\"` must name a link that has `swap_with`"
            ));
        }
        cases.push(Case {
            id: c.id,
            title: c.title,
            name: c.name,
            repeat,
            end: c.end.unwrap_or_else(|| "\n".to_string()),
            shows: c.shows,
            swap: c.swap,
            hint: c.hint,
            expect,
        });
    }
    if cases.is_empty() {
        problems.push("the corpus has no [[cases]]".into());
    }
    Corpus {
        modes: settings.modes,
        timeout,
        race_runs: settings.race_runs,
        files,
        cases,
        source: source.to_string(),
    }
}

fn build_files(raw: Vec<RawFile>, problems: &mut Vec<String>) -> Vec<CorpusFile> {
    let mut files: Vec<CorpusFile> = Vec::new();
    for f in raw {
        let what = format!("file `{}`", f.id);
        if !word_like(&f.id) {
            problems.push(format!("{what}: the id must be one word"));
        }
        if files.iter().any(|g| g.id == f.id) {
            problems.push(format!("{what} is defined twice"));
        }
        check_placeholders(&f.path, &["rand"], &what, problems);
        let stays_inside = !f.path.is_empty()
            && Path::new(&f.path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !stays_inside {
            problems.push(format!(
                "{what}: path `{}` must be relative, without `.` or `..`",
                f.path
            ));
        }
        if let Some(parent) = Path::new(&f.path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            && !files
                .iter()
                .any(|g| g.kind == FileKind::Dir && Path::new(&g.path) == parent)
        {
            problems.push(format!(
                "{what}: its directory `{}` is not a `dir = true` file defined before it",
                parent.display()
            ));
        }
        let kinds = [f.content.is_some(), f.dir, f.link.is_some(), f.fifo]
            .iter()
            .filter(|&&k| k)
            .count();
        if kinds != 1 {
            problems.push(format!(
                "{what} must be exactly one of: `content = \"...\"`, `dir = true`, `link = \"...\"`, `fifo = true`"
            ));
        }
        if f.swap_with.is_some() && f.link.is_none() {
            problems.push(format!("{what}: only a link can have `swap_with`"));
        }
        let kind = if let Some(text) = &f.content {
            check_placeholders(text, &PLACEHOLDERS, &what, problems);
            FileKind::Content(text.clone())
        } else if f.dir {
            FileKind::Dir
        } else if let Some(target) = &f.link {
            check_placeholders(target, &PLACEHOLDERS, &what, problems);
            if let Some(other) = &f.swap_with {
                check_placeholders(other, &PLACEHOLDERS, &what, problems);
            }
            FileKind::Link {
                target: target.clone(),
                swap_with: f.swap_with.clone(),
            }
        } else {
            FileKind::Fifo
        };
        let owner = match f.owner.as_deref() {
            None | Some("owner") => FileOwner::Owner,
            Some("confined") => FileOwner::Confined,
            Some("grader") => FileOwner::Grader,
            Some(other) => {
                problems.push(format!(
                    "{what}: owner `{other}` is not a role (owner, confined or grader)"
                ));
                FileOwner::Owner
            }
        };
        let default_mode = if kind == FileKind::Dir { 0o755 } else { 0o644 };
        let mode = match &f.mode {
            None => default_mode,
            Some(text) => parse_mode(text).unwrap_or_else(|e| {
                problems.push(format!("{what}: {e}"));
                default_mode
            }),
        };
        if let Some(group) = &f.group
            && !word_like(group)
        {
            problems.push(format!("{what}: `{group}` is not a group name"));
        }
        files.push(CorpusFile {
            id: f.id,
            path: f.path,
            kind,
            owner,
            group: f.group,
            mode,
        });
    }
    files
}
