//! Build output kept between grading runs of one submission, for labs whose build writes next to
//! its sources (`make`; cargo builds have their own cache, a target directory outside the copy).
//! A batch regrading a class then only rebuilds the submissions whose files changed, and a
//! student grading the same files again does not wait for their build twice.
//!
//! Per submission (the same key as the cargo cache: lab name and submission path), in a directory
//! only root can enter:
//! ```text
//! <cache>/<lab>-<key>/sources/   the submission as copied for the last build that passed
//!                     made/      the build directory right after that build
//! ```
//! A run copies the submission to `sources.new` first. When it is identical to `sources` (names,
//! kinds, modes, contents, link targets: compared byte for byte, never by a hash a student could
//! collide), `build/` is filled from `made/` and the build check does not run the lab's build
//! command at all (`make -B` would redo every step); otherwise from `sources.new`, and once the
//! build passed, `build/` becomes the new `made/`.
//!
//! `made/` must only ever hold what the build itself produced: [`MadeCache::remember`] is called
//! when the build check has just ended and no other student process ran since the copy (the
//! build runs alone, and the sandbox kills every process of the owner user when it ends). It must
//! never be used for another submission's sources, and is only used in privileged runs (root's
//! grades and batch slots), where the entry is root's and no student code can reach it.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::scratch::{self, Owners, Scratch, ScratchError};

#[derive(Debug, Clone)]
pub struct MadeCache {
    entry: PathBuf,
}

impl MadeCache {
    /// The cache entry of `key` under `cache_dir`, made if needed (root's, 0700).
    pub fn at(cache_dir: &Path, key: &str) -> io::Result<MadeCache> {
        fs::create_dir_all(cache_dir)?;
        fs::set_permissions(cache_dir, fs::Permissions::from_mode(0o711))?;
        let entry = cache_dir.join(key);
        match fs::symlink_metadata(&entry) {
            Ok(meta) if meta.is_dir() && meta.uid() == 0 => {}
            Ok(_) => {
                // Not something the grader made: never trust it.
                scratch::remove_leftovers(&entry);
                fs::create_dir(&entry)?;
            }
            Err(_) => fs::create_dir(&entry)?,
        }
        fs::set_permissions(&entry, fs::Permissions::from_mode(0o700))?;
        Ok(MadeCache { entry })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.entry.join(name)
    }

    /// Copies `submission` into the scratch tree's `build/`, or, when its files are exactly the
    /// ones of the last build that passed, that build's directory. Returns whether it did the
    /// latter.
    pub fn fill(
        &self,
        scratch: &Scratch,
        submission: &Path,
        owners: &Owners,
    ) -> Result<bool, ScratchError> {
        let io = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| ScratchError::Io { what, path, source }
        };
        let fresh = self.path("sources.new");
        if fs::symlink_metadata(&fresh).is_ok() {
            scratch::remove_leftovers(&fresh);
        }
        fs::create_dir(&fresh).map_err(io("create directory", &fresh))?;
        scratch::copy_filtered(submission, &fresh)?;
        let (made, sources) = (self.path("made"), self.path("sources"));
        if made.is_dir() && sources.is_dir() && same_tree(&fresh, &sources) {
            scratch.fill_build(&made, owners)?;
            scratch::remove_leftovers(&fresh);
            return Ok(true);
        }
        scratch.fill_build(&fresh, owners)?;
        Ok(false)
    }

    /// Keeps `build/` as the output of the sources `fill` copied. Best effort: when anything
    /// fails (root without CAP_DAC_OVERRIDE cannot read the owner's files, a huge build), the
    /// cache is left without an entry and the next run builds again.
    pub fn remember(&self, scratch: &Scratch) {
        let fresh = self.path("sources.new");
        if !fresh.is_dir() {
            return;
        }
        let made_new = self.path("made.new");
        scratch::remove_leftovers(&made_new);
        let mut budget = (scratch::MAX_ENTRIES, scratch::MAX_BYTES);
        let copied = fs::create_dir(&made_new)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                scratch::copy_exact(&scratch.build, &made_new, &mut budget)
                    .map_err(|e| e.to_string())
            });
        if copied.is_err() {
            scratch::remove_leftovers(&made_new);
            scratch::remove_leftovers(&fresh);
            return;
        }
        // `sources` last: a run that sees it also sees the `made` that belongs to it.
        let (made, sources) = (self.path("made"), self.path("sources"));
        scratch::remove_leftovers(&sources);
        scratch::remove_leftovers(&made);
        if fs::rename(&made_new, &made).is_err() || fs::rename(&fresh, &sources).is_err() {
            scratch::remove_leftovers(&made);
            scratch::remove_leftovers(&sources);
        }
    }
}

/// Whether two trees hold the same names, kinds, permission bits, file contents and link
/// targets. Modification times are not compared: equal contents build the same way.
pub fn same_tree(a: &Path, b: &Path) -> bool {
    fn names(dir: &Path) -> Option<Vec<std::ffi::OsString>> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .ok()?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .ok()?;
        names.sort();
        Some(names)
    }
    let (Some(left), Some(right)) = (names(a), names(b)) else {
        return false;
    };
    left == right
        && left.iter().all(|name| {
            let (x, y) = (a.join(name), b.join(name));
            let (Ok(mx), Ok(my)) = (fs::symlink_metadata(&x), fs::symlink_metadata(&y)) else {
                return false;
            };
            if mx.file_type() != my.file_type() || mx.mode() & 0o777 != my.mode() & 0o777 {
                return false;
            }
            if mx.is_symlink() {
                fs::read_link(&x).ok() == fs::read_link(&y).ok()
            } else if mx.is_dir() {
                same_tree(&x, &y)
            } else {
                mx.len() == my.len()
                    && matches!((fs::read(&x), fs::read(&y)), (Ok(p), Ok(q)) if p == q)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(root: &Path) {
        fs::create_dir_all(root.join("sub")).expect("mkdir");
        fs::write(root.join("a.c"), "int main(void) { return 0; }\n").expect("write");
        fs::write(root.join("sub/b.txt"), "b").expect("write");
        std::os::unix::fs::symlink("a.c", root.join("link")).expect("symlink");
    }

    #[test]
    fn batch_same_tree_sees_every_kind_of_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        tree(&a);
        tree(&b);
        assert!(same_tree(&a, &b));
        fs::write(b.join("sub/b.txt"), "c").expect("write");
        assert!(!same_tree(&a, &b), "same size, other bytes");
        fs::write(b.join("sub/b.txt"), "b").expect("write");
        fs::set_permissions(b.join("a.c"), fs::Permissions::from_mode(0o755)).expect("chmod");
        assert!(!same_tree(&a, &b), "mode");
        fs::set_permissions(b.join("a.c"), fs::Permissions::from_mode(0o644)).expect("chmod");
        fs::set_permissions(a.join("a.c"), fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(same_tree(&a, &b));
        fs::remove_file(b.join("link")).expect("rm");
        std::os::unix::fs::symlink("sub/b.txt", b.join("link")).expect("symlink");
        assert!(!same_tree(&a, &b), "link target");
        fs::remove_file(b.join("link")).expect("rm");
        assert!(!same_tree(&a, &b), "missing entry");
    }

    #[test]
    fn batch_made_cache_restores_only_identical_sources() {
        let dir = tempfile::tempdir().expect("tempdir");
        let submission = dir.path().join("submission");
        tree(&submission);
        let cache = MadeCache::at(&dir.path().join("cache"), "lab-key").expect("cache");
        let owners = Owners::default();

        let first = Scratch::create(dir.path(), &owners).expect("scratch");
        assert!(!cache.fill(&first, &submission, &owners).expect("fill"));
        // What a build leaves: an output next to the sources.
        fs::write(first.build.join("a.out"), "binary").expect("write");
        cache.remember(&first);
        first.remove(&owners).expect("remove");

        let second = Scratch::create(dir.path(), &owners).expect("scratch");
        assert!(cache.fill(&second, &submission, &owners).expect("fill"));
        assert_eq!(
            fs::read_to_string(second.build.join("a.out")).expect("restored"),
            "binary"
        );
        second.remove(&owners).expect("remove");

        fs::write(submission.join("a.c"), "int main(void) { return 1; }\n").expect("edit");
        let third = Scratch::create(dir.path(), &owners).expect("scratch");
        assert!(!cache.fill(&third, &submission, &owners).expect("fill"));
        assert!(
            !third.build.join("a.out").exists(),
            "changed sources build anew"
        );
        third.remove(&owners).expect("remove");
    }
}
