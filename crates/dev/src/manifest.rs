//! The corpus file (grader/tests/corpus/corpus.toml) as data: base submissions, and entries made of
//! a base, a few edits and what grading them must give. Read and checked in full before anything
//! is graded, so a typo in a check id or a missing corpus file is reported up front.
//!
//! Only reads files; never grades, never writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use lab::Lab;

/// Why the corpus cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read the corpus {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the corpus {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCorpus {
    bases: BTreeMap<String, RawBase>,
    entry: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBase {
    about: String,
    dir: PathBuf,
    lab: PathBuf,
    #[serde(default)]
    copy: Vec<PathBuf>,
    #[serde(default)]
    edits: Vec<Edit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    group: String,
    base: String,
    about: String,
    #[serde(default)]
    edits: Vec<Edit>,
    lost: Vec<String>,
    hint: Option<HintWant>,
    needs: Option<String>,
    #[serde(default)]
    forges: bool,
    #[serde(default)]
    probes: Vec<Probe>,
    victim: Option<String>,
}

/// One change to a base submission.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// The file, relative to the submission.
    pub file: PathBuf,
    /// Text that must occur in the file; its first occurrence becomes `with`.
    pub replace: Option<String>,
    pub with: Option<String>,
    /// A corpus file (relative to the corpus file) whose content the file gets.
    pub from: Option<PathBuf>,
    /// Permission bits in octal, e.g. "4755".
    pub mode: Option<String>,
    /// F becomes a symbolic link to this target.
    pub link: Option<PathBuf>,
    /// F becomes a FIFO (`fifo = true`).
    #[serde(default)]
    pub fifo: bool,
}

/// Words the explanation of one check must contain: one text, or a list of which any will do
/// (for hostile entries whose checks race each other, e.g. a fork bomb that starves some checks
/// of processes before they start and not others).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HintWant {
    pub check: String,
    pub has: Words,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Words {
    One(String),
    AnyOf(Vec<String>),
}

impl Words {
    pub fn found_in(&self, text: &str) -> bool {
        match self {
            Words::One(words) => text.contains(words.as_str()),
            Words::AnyOf(list) => list.iter().any(|words| text.contains(words.as_str())),
        }
    }
}

impl std::fmt::Display for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Words::One(words) => write!(f, "`{words}`"),
            Words::AnyOf(list) => write!(f, "one of {list:?}"),
        }
    }
}

/// Something the runner does around one grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Probe {
    /// Listen on the host's loopback (the port is `@@PORT@@`) and count connections.
    Network,
    /// Write the reports straight into /tmp, where students can write.
    ReportsInTmp,
    /// Then grade the `victim` entry at the same path with the same build cache (the class loop).
    SamePath,
}

/// A base submission, resolved.
#[derive(Debug, Clone)]
pub struct Base {
    pub name: String,
    pub about: String,
    pub dir: PathBuf,
    pub lab_path: PathBuf,
    pub lab: Lab,
    /// Only these paths of `dir` are copied; empty copies everything.
    pub copy: Vec<PathBuf>,
    pub edits: Vec<Edit>,
}

/// One corpus entry, checked against its lab.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub group: String,
    pub base: String,
    pub about: String,
    pub edits: Vec<Edit>,
    /// The checks with points this entry must not pass when graded as root, dependents included.
    pub lost: BTreeSet<String>,
    pub hint: Option<HintWant>,
    pub needs_root: bool,
    /// The entry tries to pass off a grade of its own.
    pub forges: bool,
    pub probes: Vec<Probe>,
    /// Another entry whose build copy this one goes looking for.
    pub victim: Option<String>,
}

/// The whole corpus.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub path: PathBuf,
    /// The directory the corpus file is in: `from` and base paths are relative to it.
    pub dir: PathBuf,
    pub bases: BTreeMap<String, Base>,
    pub entries: Vec<Entry>,
}

impl Corpus {
    pub fn load(path: &Path, kinds: &lab::Kinds) -> Result<Corpus, ManifestError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let invalid = |message: String| ManifestError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let text = read(path)?;
        let raw: RawCorpus = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let mut bases = BTreeMap::new();
        for (name, base) in raw.bases {
            let lab_path = dir.join(&base.lab);
            let lab =
                Lab::load(&lab_path, kinds).map_err(|e| invalid(format!("base `{name}`: {e}")))?;
            check_edits(&dir, &base.edits).map_err(|e| invalid(format!("base `{name}`: {e}")))?;
            bases.insert(
                name.clone(),
                Base {
                    name,
                    about: base.about,
                    dir: dir.join(&base.dir),
                    lab_path,
                    lab,
                    copy: base.copy,
                    edits: base.edits,
                },
            );
        }
        let mut entries = Vec::new();
        let mut names = BTreeSet::new();
        for raw in raw.entry {
            let entry = entry(raw, &bases, &dir).map_err(invalid)?;
            if !names.insert(entry.name.clone()) {
                return Err(invalid(format!("two entries are named `{}`", entry.name)));
            }
            entries.push(entry);
        }
        for entry in &entries {
            if let Some(victim) = &entry.victim {
                let before = entries.iter().take_while(|e| e.name != entry.name);
                if !before.into_iter().any(|e| &e.name == victim) {
                    return Err(invalid(format!(
                        "entry `{}`: its victim `{victim}` must be an entry listed before it",
                        entry.name
                    )));
                }
            }
        }
        Ok(Corpus {
            path: path.to_path_buf(),
            dir,
            bases,
            entries,
        })
    }

    pub fn base_of(&self, entry: &Entry) -> &Base {
        // `entry` checked that its base exists.
        &self.bases[&entry.base]
    }
}

fn entry(raw: RawEntry, bases: &BTreeMap<String, Base>, dir: &Path) -> Result<Entry, String> {
    let name = raw.name;
    let fail = |message: String| format!("entry `{name}`: {message}");
    let base = bases
        .get(&raw.base)
        .ok_or_else(|| fail(format!("no base named `{}`", raw.base)))?;
    let lab = &base.lab;
    let known: BTreeSet<&str> = lab.checks.iter().map(|c| c.id.as_str()).collect();
    for id in raw.lost.iter().chain(raw.hint.iter().map(|h| &h.check)) {
        if !known.contains(id.as_str()) {
            return Err(fail(format!("lab `{}` has no check `{id}`", lab.name)));
        }
    }
    check_edits(dir, &raw.edits).map_err(&fail)?;
    let needs_root = match raw.needs.as_deref() {
        None => false,
        Some("root") => true,
        Some(other) => return Err(fail(format!("unknown `needs = \"{other}\"`; use \"root\""))),
    };
    Ok(Entry {
        lost: with_dependents(lab, &raw.lost),
        name,
        group: raw.group,
        base: raw.base,
        about: raw.about,
        edits: raw.edits,
        hint: raw.hint,
        needs_root,
        forges: raw.forges,
        probes: raw.probes,
        victim: raw.victim,
    })
}

/// Every edit names exactly one kind of change, and its corpus file exists.
fn check_edits(dir: &Path, edits: &[Edit]) -> Result<(), String> {
    for edit in edits {
        let kinds = [
            edit.replace.is_some() || edit.with.is_some(),
            edit.from.is_some(),
            edit.mode.is_some(),
            edit.link.is_some(),
            edit.fifo,
        ];
        if kinds.iter().filter(|k| **k).count() != 1
            || edit.replace.is_some() != edit.with.is_some()
        {
            return Err(format!(
                "the edit of {} must have `replace` and `with`, or `from`, `mode`, `link` or `fifo`",
                edit.file.display()
            ));
        }
        if let Some(from) = &edit.from
            && !dir.join(from).is_file()
        {
            return Err(format!("no corpus file {}", from.display()));
        }
        if let Some(mode) = &edit.mode
            && u32::from_str_radix(mode, 8).is_err()
        {
            return Err(format!("mode `{mode}` is not octal"));
        }
    }
    Ok(())
}

/// `lost` plus every check with points that depends on one of them, directly or not: a check
/// whose dependency did not pass is skipped, so it is lost too.
fn with_dependents(lab: &Lab, lost: &[String]) -> BTreeSet<String> {
    let mut all: BTreeSet<String> = lost.iter().cloned().collect();
    loop {
        let more: Vec<String> = lab
            .checks
            .iter()
            .filter(|c| !all.contains(&c.id) && c.depends_on.iter().any(|d| all.contains(d)))
            .map(|c| c.id.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        all.extend(more);
    }
    let scored: BTreeSet<&str> = lab
        .checks
        .iter()
        .filter(|c| c.points > 0.0)
        .map(|c| c.id.as_str())
        .collect();
    all.retain(|id| scored.contains(id.as_str()));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../grader/tests/corpus/corpus.toml")
    }

    fn kinds() -> lab::Kinds {
        let mut r = engine::Registry::builtin();
        ipc_kinds::register(&mut r);
        r.kinds().clone()
    }

    #[test]
    fn the_corpus_file_loads() {
        let corpus = Corpus::load(&corpus_path(), &kinds()).expect("corpus");
        assert!(corpus.entries.len() >= 30);
        let build = corpus
            .entries
            .iter()
            .find(|e| e.name == "build-does-not-compile")
            .expect("entry");
        assert!(build.lost.contains("sigint-exit"), "dependents are lost");
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        let lab = corpus_path()
            .parent()
            .expect("dir")
            .join("../../../labs/ipc/original.toml");
        let write = |entry: &str| {
            let text = format!(
                "[bases.o]\nabout = \"x\"\ndir = \".\"\nlab = {:?}\n\n[[entry]]\n{entry}",
                lab.display().to_string()
            );
            std::fs::write(&path, text).expect("write");
            Corpus::load(&path, &kinds())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let base = "name = \"e\"\ngroup = \"g\"\nbase = \"o\"\nabout = \"a\"\n";
        assert_eq!(write(&format!("{base}lost = []\n")), Ok(()));
        let no_check = write(&format!("{base}lost = [\"nope\"]\n")).expect_err("bad id");
        assert!(no_check.contains("no check `nope`"), "{no_check}");
        let no_file = write(&format!(
            "{base}lost = []\nedits = [{{ file = \"a\", from = \"missing\" }}]\n"
        ))
        .expect_err("missing file");
        assert!(no_file.contains("no corpus file"), "{no_file}");
        let unknown = write(&format!("{base}lost = []\ncolour = 1\n")).expect_err("unknown key");
        assert!(unknown.contains("colour"), "{unknown}");
    }
}
