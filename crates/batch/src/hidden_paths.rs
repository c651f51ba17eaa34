//! What a batch hides from every student's code: the directories of all the submissions it was
//! given and its own output directory. The engine hides a submission's own class directory by
//! itself; a roster may spread a class over many directories (`section-a/alice`, `/srv/bob`), and
//! students' repositories are often readable by everyone, so the batch names them all.
//!
//! The list goes to each worker in a file in the batch's scratch directory (root's, 0600), not on
//! the command line. A directory holding two or more of the submissions is hidden whole (one
//! mount instead of many); a lone submission is hidden by itself. Only paths: this module never
//! reads a submission.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The directories to hide for `submissions` and the batch's `out` directory.
pub fn plan(submissions: &[PathBuf], out: &Path) -> Vec<PathBuf> {
    let absolute = |p: &Path| std::fs::canonicalize(p).ok();
    let mut by_parent: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    let mut lone_at_root = Vec::new();
    for dir in submissions.iter().filter_map(|d| absolute(d)) {
        match dir.parent().filter(|p| p.parent().is_some()) {
            Some(parent) => by_parent.entry(parent.to_path_buf()).or_default().push(dir),
            None => lone_at_root.push(dir),
        }
    }
    let mut hide: Vec<PathBuf> = lone_at_root;
    for (parent, dirs) in by_parent {
        if dirs.len() >= 2 {
            hide.push(parent);
        } else {
            hide.extend(dirs);
        }
    }
    // The output directory may not exist yet when the plan is made; hide where it will be.
    hide.push(absolute(out).unwrap_or_else(|| std::path::absolute(out).unwrap_or_default()));
    hide.retain(|p| p.parent().is_some());
    hide.sort();
    hide.dedup();
    hide
}

/// Writes `paths` into `file` (NUL-separated, mode 0600).
pub fn write(file: &Path, paths: &[PathBuf]) -> io::Result<()> {
    let mut bytes = Vec::new();
    for path in paths {
        bytes.extend_from_slice(path.as_os_str().as_bytes());
        bytes.push(0);
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)?;
    io::Write::write_all(&mut f, &bytes)
}

/// Reads a list [`write`] made.
pub fn read(file: &Path) -> io::Result<Vec<PathBuf>> {
    let bytes = std::fs::read(file)?;
    Ok(bytes
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| PathBuf::from(OsStr::from_bytes(part)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_parents_are_hidden_whole_and_lone_submissions_alone() {
        let root = tempfile::tempdir().expect("tempdir");
        let r = std::fs::canonicalize(root.path()).expect("canonical");
        for d in ["class/a", "class/b", "solo/c", "out"] {
            std::fs::create_dir_all(r.join(d)).expect("mkdir");
        }
        let subs = vec![r.join("class/a"), r.join("class/b"), r.join("solo/c")];
        let hide = plan(&subs, &r.join("out"));
        assert_eq!(hide, vec![r.join("class"), r.join("out"), r.join("solo/c")]);
        let file = r.join("hide.list");
        write(&file, &hide).expect("write");
        assert_eq!(read(&file).expect("read"), hide);
    }
}
