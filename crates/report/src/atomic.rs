//! Writing an output file (`--json`, `--junit`) all at once: the bytes go to a temporary file in the
//! same directory, are flushed to disk, and the temporary file is renamed over the target. A reader
//! sees the old file or the whole new one, never half of one.
//!
//! On any error the target is left exactly as it was and the temporary file is removed. This module
//! must never create the target's directory: a missing directory usually means a mistyped path,
//! and guessing would hide it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Why an output file could not be written. The target was not changed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "cannot write {}: the directory {} does not exist; create it first or choose another path",
        path.display(),
        dir.display()
    )]
    MissingDirectory { path: PathBuf, dir: PathBuf },

    #[error("cannot write {}: it does not name a file; give a file name such as results.json", path.display())]
    NotAFileName { path: PathBuf },

    #[error(
        "cannot write {}: {step} failed: {source}; the file was left as it was (check that the \
         directory is writable, has free space, and that the path is not a directory)",
        path.display()
    )]
    Io {
        path: PathBuf,
        step: &'static str,
        #[source]
        source: io::Error,
    },
}

/// Fails, naming the directory, when `path`'s directory does not exist or is not a directory.
/// Callers can use it before a long grading run, so a mistyped output path is reported at once.
pub fn ensure_parent_exists(path: &Path) -> Result<(), WriteError> {
    if path.file_name().is_none() {
        return Err(WriteError::NotAFileName {
            path: path.to_path_buf(),
        });
    }
    let dir = parent_dir(path);
    if dir.is_dir() {
        Ok(())
    } else {
        Err(WriteError::MissingDirectory {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        })
    }
}

/// Replaces `path` with `bytes` atomically (see the module documentation). Writing through a
/// symbolic link replaces the link itself, not the file it points to.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    ensure_parent_exists(path)?;
    let io_error = |step, source| WriteError::Io {
        path: path.to_path_buf(),
        step,
        source,
    };

    let (temp_path, file) =
        create_temp(path).map_err(|e| io_error("creating a temporary file", e))?;
    let written = write_and_sync(file, bytes)
        .map_err(|e| io_error("writing the temporary file", e))
        .and_then(|()| {
            fs::rename(&temp_path, path).map_err(|e| io_error("renaming into place", e))
        });
    if written.is_err() {
        // Best effort: the error being returned matters more than a failure to clean up.
        let _ = fs::remove_file(&temp_path);
        return written;
    }
    // Makes the rename itself durable. The new file is already in place, so a failure here is not
    // reported as a failed write.
    if let Ok(dir) = File::open(parent_dir(path)) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// `path`'s directory; a bare file name lives in the current directory.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Creates a new, uniquely named file next to `path`. `create_new` guarantees the file is ours,
/// never a file (or link) someone else put there.
fn create_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let dir = parent_dir(path);
    let mut last_error = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // A random part, so nobody can plant a file (or a link) under the name in advance and
        // make the grader fail to write its report.
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
        let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let temp = dir.join(format!(".{name}.{}.{n}.{random}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

fn write_and_sync(mut file: File, bytes: &[u8]) -> io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("readable dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn report_atomic_write_replaces_the_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("results.json");
        fs::write(&target, b"old").expect("seed");
        write_atomically(&target, b"new contents").expect("writes");
        assert_eq!(fs::read(&target).expect("reads"), b"new contents");
        assert_eq!(names_in(dir.path()), ["results.json"]);
    }

    #[test]
    fn report_atomic_write_refuses_a_missing_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("nope").join("results.json");
        let err = write_atomically(&target, b"x").expect_err("must fail");
        assert!(matches!(err, WriteError::MissingDirectory { .. }));
        let message = err.to_string();
        assert!(message.contains(&target.display().to_string()), "{message}");
        assert!(message.contains("does not exist"), "{message}");
        assert!(names_in(dir.path()).is_empty());
        assert!(ensure_parent_exists(&target).is_err());
        assert!(ensure_parent_exists(&dir.path().join("ok.xml")).is_ok());
    }

    #[test]
    fn report_atomic_write_failure_leaves_target_and_no_temp() {
        // Renaming a file over a non-empty directory fails: the write must fail cleanly.
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("report.xml");
        fs::create_dir(&target).expect("dir in the way");
        fs::write(target.join("keep"), b"keep").expect("seed");
        let err = write_atomically(&target, b"x").expect_err("must fail");
        assert!(
            matches!(
                err,
                WriteError::Io {
                    step: "renaming into place",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("left as it was"));
        assert_eq!(names_in(dir.path()), ["report.xml"]);
        assert_eq!(fs::read(target.join("keep")).expect("kept"), b"keep");
    }

    #[test]
    fn report_atomic_write_rejects_a_path_without_file_name() {
        let err = write_atomically(Path::new("/"), b"x").expect_err("must fail");
        assert!(matches!(err, WriteError::NotAFileName { .. }));
    }
}
