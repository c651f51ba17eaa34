//! One grade at a time per build-cache entry. Entries are keyed by content, so two batch slots
//! grading identical submissions at once (a class where several students hand in the starter
//! unchanged, or copied work) would build into, seal and reuse the same entry at the same time.
//! A grade claims its entry with an exclusive `flock` on `<key>.lock` beside it, held until the
//! grade ends; when the entry is busy it takes the next free one of `<key>~2`, `<key>~3`, ...
//! instead of waiting. It never waits for a lock, and never shares an entry between two grades.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

/// How many entries of one key may be in use at once before a grade builds without a claim.
const MAX_TWINS: usize = 64;

/// A claimed cache entry: its key, and the lock that holds it until dropped.
#[derive(Debug)]
pub struct Claim {
    pub key: String,
    _lock: Option<File>,
}

/// Claims the entry `key` in `cache_dir`, or the first free twin of it.
pub fn claim(cache_dir: &Path, key: String) -> Claim {
    if std::fs::create_dir_all(cache_dir).is_err() {
        // The build set-up reports the cache directory's problem in its own words.
        return Claim { key, _lock: None };
    }
    for n in 1..=MAX_TWINS {
        let candidate = if n == 1 {
            key.clone()
        } else {
            format!("{key}~{n}")
        };
        if let Some(file) = lock_now(cache_dir, &candidate) {
            // The entry's last use, for `cache_eviction`.
            let _ = file.set_modified(std::time::SystemTime::now());
            return Claim {
                key: candidate,
                _lock: Some(file),
            };
        }
    }
    Claim {
        key: format!("{key}~pid{}", std::process::id()),
        _lock: None,
    }
}

/// The claim lock of the entry `key` (`<key>.lock`, made if missing, never through a link),
/// taken without waiting; None when a grade holds it. `build_seed` and `cache_eviction` take
/// it too before they read or remove an entry.
pub fn lock_now(cache_dir: &Path, key: &str) -> Option<File> {
    lock_file_now(cache_dir, key, FlockOperation::NonBlockingLockExclusive)
}

/// The claim lock of `key` shared, taken without waiting: for those who only read the entry
/// (`build_seed` lending the seed), so that several slots can copy from it at once while no grade
/// can claim it, and none of them while a grade holds it.
pub fn lock_shared_now(cache_dir: &Path, key: &str) -> Option<File> {
    lock_file_now(cache_dir, key, FlockOperation::NonBlockingLockShared)
}

fn lock_file_now(cache_dir: &Path, key: &str, how: FlockOperation) -> Option<File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(cache_dir.join(format!("{key}.lock")))
        .ok()?;
    flock(file.as_fd(), how).ok()?;
    Some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_share_an_entry_and_keep_a_grade_out_of_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lock_shared_now(dir.path(), "seed").expect("a first reader");
        let second = lock_shared_now(dir.path(), "seed").expect("a second reader beside it");
        assert!(
            lock_now(dir.path(), "seed").is_none(),
            "no grade while it is read"
        );
        drop((first, second));
        let grade = lock_now(dir.path(), "seed").expect("free once read");
        assert!(
            lock_shared_now(dir.path(), "seed").is_none(),
            "no reader while it is graded"
        );
        drop(grade);
    }

    #[test]
    fn a_busy_entry_sends_the_next_grade_to_a_twin_and_is_free_again_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = claim(dir.path(), "abc".into());
        let second = claim(dir.path(), "abc".into());
        assert_eq!(first.key, "abc");
        assert_eq!(second.key, "abc~2");
        drop(first);
        assert_eq!(claim(dir.path(), "abc".into()).key, "abc");
    }
}
