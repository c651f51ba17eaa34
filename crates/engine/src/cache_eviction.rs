//! Keeps a build cache from growing without end. Entries are keyed by content, so every edit a
//! student grades makes a new one (a Rust target directory is tens of megabytes), and a cache
//! volume used all term would fill the disk. After each grade the least recently used entries
//! beyond the newest [`Options::cache_keep`](crate::grade::Options) are removed.
//!
//! An entry's last use is the time of its claim lock file (`<key>.lock`, touched by
//! `cache_claim` whenever a grade takes it). It never removes an entry a grade holds (its claim
//! lock is taken without waiting first, and a busy entry is skipped), the lab's seed (see
//! `build_seed`), or anything that is not an entry the grader made: a directory with a claim lock
//! beside it. Lock files stay (they are empty), so two grades never lock two files of one key.

use std::path::Path;
use std::time::SystemTime;

/// The variable (and `--cache-keep`) that sets how many entries a cache keeps.
pub const KEEP_VAR: &str = "GRADER_CACHE_KEEP";

/// Entries kept when nothing says otherwise: a student's last few dozen versions, every lab.
pub const DEFAULT_KEEP: usize = 32;

/// Removes the least recently used entries of `cache_dir` beyond the `keep` newest, never one
/// named in `protect`, never one in use. Returns how many it removed.
pub fn evict(cache_dir: &Path, keep: usize, protect: &[String]) -> usize {
    let Ok(listing) = std::fs::read_dir(cache_dir) else {
        return 0;
    };
    let mut entries: Vec<(SystemTime, String)> = listing
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let lock = cache_dir.join(format!("{name}.lock"));
            let used = std::fs::symlink_metadata(&lock)
                .ok()
                .filter(std::fs::Metadata::is_file)?
                .modified()
                .ok()?;
            Some((used, name))
        })
        .collect();
    if entries.len() <= keep {
        return 0;
    }
    // Newest first; the ones after the first `keep` go (unless protected or busy).
    entries.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut removed = 0;
    for (_, name) in entries.into_iter().skip(keep) {
        if protect.contains(&name) {
            continue;
        }
        let Some(_held) = crate::cache_claim::lock_now(cache_dir, &name) else {
            continue;
        };
        if crate::tree_removal::remove_tree(&cache_dir.join(&name)).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::time::Duration;

    fn entry(dir: &Path, name: &str, age_secs: u64) {
        std::fs::create_dir_all(dir.join(name).join("target/release")).expect("mkdir");
        std::fs::write(dir.join(name).join("target/release/x"), "x").expect("write");
        let lock = File::create(dir.join(format!("{name}.lock"))).expect("lock");
        lock.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
            .expect("mtime");
    }

    #[test]
    fn the_oldest_go_first_and_the_protected_busy_and_foreign_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for (name, age) in [
            ("new", 1),
            ("mid", 50),
            ("old", 100),
            ("seed", 1000),
            ("busy", 500),
        ] {
            entry(d, name, age);
        }
        // Not an entry the grader made: no claim lock beside it.
        std::fs::create_dir(d.join("foreign")).expect("mkdir");
        let held = crate::cache_claim::lock_now(d, "busy").expect("hold busy");
        let removed = evict(d, 2, &["seed".to_string()]);
        assert_eq!(removed, 1, "only `old` may go");
        for kept in ["new", "mid", "seed", "busy", "foreign"] {
            assert!(d.join(kept).is_dir(), "{kept} must stay");
        }
        assert!(!d.join("old").exists());
        assert!(d.join("old.lock").is_file(), "lock files stay");
        drop(held);
        assert_eq!(
            evict(d, 2, &["seed".to_string()]),
            1,
            "`busy` goes once free"
        );
        assert_eq!(evict(d, 2, &["seed".to_string()]), 0);
    }

    #[test]
    fn a_small_cache_is_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        entry(dir.path(), "a", 10);
        entry(dir.path(), "b", 20);
        assert_eq!(evict(dir.path(), 2, &[]), 0);
        assert!(dir.path().join("b").is_dir());
    }
}
