//! Who a batch grades: submission directories given as arguments, as patterns the grader expands
//! itself (for CI files, where no shell expands them), or as a roster file that maps student ids
//! to directories. Every entry gets a student id and a file-name-safe stem for its report files.
//!
//! This module only reads directory listings and the roster; it never opens a submission's files.
//! Two entries may never share an id or a stem: one student's reports would overwrite another's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod people;

pub use people::{Person, read_people};

/// One submission to grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The id the gradebook shows: the roster's, or the directory's name.
    pub student: String,
    /// The submission directory (it may not exist: the row then says `error`).
    pub dir: PathBuf,
    /// The id made safe as a file name: `json/<stem>.json`, `junit/<stem>.xml`, ...
    pub stem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("cannot read the roster {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: expected `student_id,directory`, found `{text}`\n  fix: one student per line, the id and the directory separated by a comma or a tab"
    )]
    BadLine {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error(
        "{path}:{line}: no directory for `{student}`\n  fix: give every student of a roster that `grader batch` grades a `directory`"
    )]
    NoDirectory {
        path: PathBuf,
        line: usize,
        student: String,
    },
    #[error(
        "{path}:{line}: no student id on this line\n  fix: fill in the `student` column (or `id`, `sis_id`, `login` when the roster has no `student` column)"
    )]
    NoId { path: PathBuf, line: usize },
    #[error(
        "{path}:1: the header names no id column\n  fix: add a `student` column (or `id`, `sis_id`, `login`)"
    )]
    NoIdColumn { path: PathBuf },
    #[error(
        "the pattern `{0}` matches no directory\n  fix: check the path; `*` and `?` match within one path component"
    )]
    NoMatch(String),
    #[error(
        "two submissions would be filed as `{stem}`: {first} and {second}\n  fix: give each its own id in a roster (--roster), or grade directories with different names"
    )]
    Duplicate {
        stem: String,
        first: String,
        second: String,
    },
    #[error(
        "no submissions to grade\n  fix: name directories (`grader batch subs/*`), a pattern (--glob 'subs/*') or a roster (--roster roster.csv)"
    )]
    Empty,
}

/// Everything to grade, in the order given: arguments first, then patterns, then the roster.
pub fn collect(
    dirs: &[PathBuf],
    patterns: &[String],
    roster: Option<&Path>,
) -> Result<Vec<Entry>, RosterError> {
    let mut pairs: Vec<(String, PathBuf)> = dirs.iter().map(|d| (id_of(d), d.clone())).collect();
    for pattern in patterns {
        let found = expand(pattern);
        if found.is_empty() {
            return Err(RosterError::NoMatch(pattern.clone()));
        }
        pairs.extend(found.into_iter().map(|d| (id_of(&d), d)));
    }
    if let Some(path) = roster {
        pairs.extend(read_roster(path)?);
    }
    if pairs.is_empty() {
        return Err(RosterError::Empty);
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut entries = Vec::with_capacity(pairs.len());
    for (student, dir) in pairs {
        let stem = stem_of(&student);
        // Compared without case: reports may end up on a file system that ignores it.
        if let Some(first) = seen.insert(stem.to_lowercase(), student.clone()) {
            return Err(RosterError::Duplicate {
                stem,
                first,
                second: student,
            });
        }
        entries.push(Entry { student, dir, stem });
    }
    Ok(entries)
}

/// Refuses two roster lines for one student (compared without case, as `collect` does).
pub fn refuse_duplicates(people: &[Person]) -> Result<(), RosterError> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for person in people {
        if let Some(first) = seen.insert(stem_of(&person.student).to_lowercase(), &person.student) {
            return Err(RosterError::Duplicate {
                stem: stem_of(&person.student),
                first: first.to_string(),
                second: person.student.clone(),
            });
        }
    }
    Ok(())
}

/// A directory's id: its last component (`subs/alice/` -> `alice`; `.` -> the real name).
fn id_of(dir: &Path) -> String {
    let named = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty());
    named
        .or_else(|| {
            std::fs::canonicalize(dir)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| dir.display().to_string())
}

/// Letters, digits and `._-@+` kept, anything else (slashes, spaces, quotes) becomes `_`; a
/// leading dot is escaped, so no stem is hidden, `.` or `..`.
pub fn stem_of(student: &str) -> String {
    let mut stem: String = student
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-@+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() || stem.starts_with('.') {
        stem.insert(0, '_');
    }
    stem
}

/// The `(student, directory)` pairs of a roster, for a batch: every student needs a directory.
fn read_roster(path: &Path) -> Result<Vec<(String, PathBuf)>, RosterError> {
    read_people(path)?
        .into_iter()
        .map(|p| match p.dir {
            Some(dir) => Ok((p.student, dir)),
            None => Err(RosterError::NoDirectory {
                path: path.to_path_buf(),
                line: p.line,
                student: p.student,
            }),
        })
        .collect()
}

/// Expands `*` and `?` in each component of `pattern` to the directories that match, sorted.
/// As in a shell, a wildcard does not match a leading dot.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let absolute = pattern.starts_with('/');
    let mut found = vec![if absolute {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            if !part.contains(['*', '?']) {
                next.push(base.join(part));
                continue;
            }
            let listing = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(listing) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| !name.starts_with('.') && wildcard(part, name))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|name| base.join(name)));
        }
        found = next;
    }
    found.retain(|p| !p.as_os_str().is_empty() && p.is_dir());
    found
}

/// Whether `name` matches `pattern`, where `*` is any run of characters and `?` any one.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and how much of the name it has taken so far.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_wildcards_match_like_a_shell() {
        assert!(wildcard("*", "alice"));
        assert!(wildcard("a*e", "alice"));
        assert!(wildcard("a?ice", "alice"));
        assert!(wildcard("*-ipc", "bob-ipc"));
        assert!(!wildcard("*-ipc", "bob-ipc2"));
        assert!(wildcard("*a*b*", "xxaxxbxx"));
        assert!(!wildcard("a?", "a"));
    }

    #[test]
    fn batch_stems_are_safe_file_names() {
        assert_eq!(stem_of("alice"), "alice");
        assert_eq!(stem_of("s123@uni.edu"), "s123@uni.edu");
        assert_eq!(stem_of("../../etc/passwd"), "_.._.._etc_passwd");
        assert_eq!(stem_of(".hidden"), "_.hidden");
        assert_eq!(stem_of("Bob Smith"), "Bob_Smith");
        assert_eq!(stem_of(""), "_");
    }

    #[test]
    fn batch_roster_lines_headers_and_relative_dirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let roster = dir.path().join("roster.csv");
        std::fs::write(
            &roster,
            "student,directory\n# a comment\n\ns1,subs/a\n\"s,2\"\t/abs/b\n\"say \"\"hi\"\"\",\"c d\"\n",
        )
        .expect("write");
        let entries = collect(&[], &[], Some(&roster)).expect("roster");
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].student, "say \"hi\"");
        assert_eq!(entries[2].dir, dir.path().join("c d"));
        assert_eq!(entries[0].student, "s1");
        assert_eq!(entries[0].dir, dir.path().join("subs/a"));
        assert_eq!(entries[1].student, "s,2");
        assert_eq!(entries[1].stem, "s_2");
        assert_eq!(entries[1].dir, PathBuf::from("/abs/b"));
    }

    #[test]
    fn batch_roster_refuses_bad_lines_and_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let roster = dir.path().join("roster.csv");
        std::fs::write(&roster, "s1,a\nno separator here\n").expect("write");
        let err = collect(&[], &[], Some(&roster)).expect_err("bad line");
        assert!(err.to_string().contains(":2:"), "{err}");
        std::fs::write(&roster, "Alice,a\nalice,b\n").expect("write");
        let err = collect(&[], &[], Some(&roster)).expect_err("duplicate");
        assert!(matches!(err, RosterError::Duplicate { .. }), "{err}");
        assert!(matches!(collect(&[], &[], None), Err(RosterError::Empty)));
    }

    #[test]
    fn batch_patterns_expand_to_sorted_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["b-1", "a-1", "a-2", ".hidden-1"] {
            std::fs::create_dir(dir.path().join(d)).expect("mkdir");
        }
        std::fs::write(dir.path().join("c-1"), "a file").expect("write");
        let pattern = format!("{}/*-1", dir.path().display());
        let found = expand(&pattern);
        let names: Vec<String> = found
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a-1", "b-1"]);
        let err =
            collect(&[], &[format!("{}/zz*", dir.path().display())], None).expect_err("no match");
        assert!(matches!(err, RosterError::NoMatch(_)));
    }
}
