//! The entries of a submission that git would commit, found without trusting the submission: the
//! walk is iterative (any depth), never follows a link, stops at an entry budget, and reads each
//! `.gitignore` only through `nofollow::read_capped` (a `.gitignore` that is a link, a FIFO, a
//! device or larger than [`IGNORE_CAP`] contributes no rules, and is never opened as root through
//! a link).
//!
//! Only reads; never writes anything.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The largest `.gitignore` whose rules are read.
pub const IGNORE_CAP: u64 = 1 << 20;

/// One entry to copy, in an order where every directory comes before what is in it.
#[derive(Debug)]
pub struct Entry {
    pub src: PathBuf,
    pub rel: PathBuf,
    pub meta: fs::Metadata,
}

#[derive(Debug)]
pub enum WalkError {
    TooLarge,
    Io { path: PathBuf, source: io::Error },
}

fn matcher(dir: &Path) -> Option<Gitignore> {
    let text = crate::nofollow::read_capped(&dir.join(".gitignore"), IGNORE_CAP).ok()?;
    let mut builder = GitignoreBuilder::new(dir);
    for line in String::from_utf8_lossy(&text).lines() {
        // A bad pattern is simply not a rule, as in git.
        let _ = builder.add_line(None, line);
    }
    builder.build().ok()
}

fn ignored(matchers: &[Gitignore], path: &Path, is_dir: bool) -> bool {
    for m in matchers.iter().rev() {
        match m.matched(path, is_dir) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => {}
        }
    }
    false
}

/// Every entry under `root` that its `.gitignore` files do not ignore, less the top-level names
/// in `skip_top`; more than `max_entries` is `TooLarge`.
pub fn list(root: &Path, skip_top: &[&str], max_entries: usize) -> Result<Vec<Entry>, WalkError> {
    let mut out = Vec::new();
    let mut pending: Vec<(PathBuf, PathBuf, Rc<Vec<Gitignore>>)> =
        vec![(root.to_path_buf(), PathBuf::new(), Rc::new(Vec::new()))];
    while let Some((dir, rel, inherited)) = pending.pop() {
        let mut matchers = inherited;
        if let Some(m) = matcher(&dir) {
            let mut more = (*matchers).clone();
            more.push(m);
            matchers = Rc::new(more);
        }
        let entries = fs::read_dir(&dir).map_err(|source| WalkError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut names: Vec<OsString> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| WalkError::Io {
                path: dir.clone(),
                source,
            })?;
            names.push(entry.file_name());
        }
        names.sort();
        for name in names {
            if rel.as_os_str().is_empty() && skip_top.iter().any(|s| name == *s) {
                continue;
            }
            let src = dir.join(&name);
            let meta = fs::symlink_metadata(&src).map_err(|source| WalkError::Io {
                path: src.clone(),
                source,
            })?;
            let is_dir = meta.file_type().is_dir();
            if ignored(&matchers, &src, is_dir) {
                continue;
            }
            if out.len() >= max_entries {
                return Err(WalkError::TooLarge);
            }
            let entry_rel = rel.join(&name);
            if is_dir {
                pending.push((src.clone(), entry_rel.clone(), Rc::clone(&matchers)));
            }
            out.push(Entry {
                src,
                rel: entry_rel,
                meta,
            });
        }
    }
    Ok(out)
}
