//! Where a batch writes: one output directory holding the gradebook and, per submission, its
//! Gradescope `results.json`, JUnit XML, terminal report and grader log.
//!
//! ```text
//! OUT/gradebook.csv
//! OUT/json/<stem>.json     OUT/junit/<stem>.xml     OUT/reports/<stem>.txt
//! OUT/logs/<stem>.log      what the grader said on stderr (kept only when not empty)
//! OUT/.staging/            where workers write; moved into place only once a row is known
//! ```
//!
//! A worker's files land in `.staging` first. A `graded` or `error` row moves them over the
//! earlier ones (each with one rename, so a reader sees a whole file); an `infra` row throws them
//! away, so a failed regrade never replaces a good earlier result. Nothing here runs as, or is
//! readable by, the lab's users: the tree is root's, and the staging directory is 0700.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The files one submission gets, by kind.
const KINDS: [(&str, &str); 3] = [("json", "json"), ("junit", "xml"), ("reports", "txt")];

#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
    staging: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot prepare the output directory {path}: {source}\n  fix: choose a writable directory with --out"
)]
pub struct LayoutError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl Layout {
    /// Makes the directories (keeping what an earlier batch wrote) and empties the staging area
    /// of files a stopped batch left.
    pub fn create(root: &Path) -> Result<Layout, LayoutError> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LayoutError { path, source }
        };
        let layout = Layout {
            root: root.to_path_buf(),
            staging: root.join(".staging"),
        };
        fs::create_dir_all(root).map_err(err(root))?;
        for (dir, _) in KINDS.iter().chain(&[("logs", "log")]) {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(err(&path))?;
        }
        if layout.staging.exists() {
            fs::remove_dir_all(&layout.staging).map_err(err(&layout.staging))?;
        }
        fs::create_dir(&layout.staging).map_err(err(&layout.staging))?;
        fs::set_permissions(&layout.staging, fs::Permissions::from_mode(0o700))
            .map_err(err(&layout.staging))?;
        Ok(layout)
    }

    pub fn gradebook(&self) -> PathBuf {
        self.root.join("gradebook.csv")
    }

    /// Where a worker writes: `<prefix>.json`, `.xml`, `.txt`, and its outcome `.outcome`.
    pub fn stage_prefix(&self, stem: &str) -> PathBuf {
        self.staging.join(stem)
    }

    /// One staged file, e.g. `staged("alice", "json")`.
    pub fn staged(&self, stem: &str, ext: &str) -> PathBuf {
        with_suffix(&self.stage_prefix(stem), ext)
    }

    pub fn log(&self, stem: &str) -> PathBuf {
        self.root.join("logs").join(format!("{stem}.log"))
    }

    /// The results.json of a submission, as the gradebook refers to it.
    pub fn json(&self, stem: &str) -> PathBuf {
        self.root.join("json").join(format!("{stem}.json"))
    }

    /// Moves the staged files into place. A kind the worker did not write is removed from the
    /// earlier run's files too, so no stale report is left beside a newer result.
    pub fn promote(&self, stem: &str) -> io::Result<()> {
        for (dir, ext) in KINDS {
            let staged = self.staging.join(format!("{stem}.{ext}"));
            let target = self.root.join(dir).join(format!("{stem}.{ext}"));
            if staged.exists() {
                fs::rename(&staged, &target)?;
            } else if target.exists() {
                fs::remove_file(&target)?;
            }
        }
        self.discard(stem);
        Ok(())
    }

    /// Throws the staged files away, leaving the earlier results as they are.
    pub fn discard(&self, stem: &str) {
        for ext in ["json", "xml", "txt", "outcome"] {
            let _ = fs::remove_file(self.staging.join(format!("{stem}.{ext}")));
        }
    }

    /// Removes the staging area and empty logs once the batch is over.
    pub fn tidy(&self) {
        let _ = fs::remove_dir_all(&self.staging);
        if let Ok(entries) = fs::read_dir(self.root.join("logs")) {
            for entry in entries.flatten() {
                if entry.metadata().is_ok_and(|m| m.is_file() && m.len() == 0) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// `prefix` + `.` + `ext`. Unlike `Path::with_extension`, a dot already in the name (a stem such
/// as `s123@uni.edu`) is kept.
pub fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_promote_replaces_and_discard_keeps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::create(dir.path()).expect("layout");
        assert_eq!(
            layout.staged("s1@uni.edu", "json"),
            dir.path().join(".staging/s1@uni.edu.json")
        );
        fs::write(layout.staged("alice", "json"), "first").expect("stage");
        fs::write(layout.staged("alice", "txt"), "report").expect("stage");
        layout.promote("alice").expect("promote");
        assert_eq!(
            fs::read_to_string(layout.json("alice")).expect("json"),
            "first"
        );
        assert!(dir.path().join("reports/alice.txt").exists());

        fs::write(layout.staged("alice", "json"), "second").expect("stage");
        layout.discard("alice");
        assert_eq!(
            fs::read_to_string(layout.json("alice")).expect("json"),
            "first"
        );

        // A newer result without a terminal report removes the stale one.
        fs::write(layout.staged("alice", "json"), "third").expect("stage");
        layout.promote("alice").expect("promote");
        assert_eq!(
            fs::read_to_string(layout.json("alice")).expect("json"),
            "third"
        );
        assert!(!dir.path().join("reports/alice.txt").exists());

        fs::write(layout.log("alice"), "").expect("log");
        layout.tidy();
        assert!(!layout.log("alice").exists());
        assert!(!dir.path().join(".staging").exists());
    }
}
