//! Build caches that one student cannot use against another: an entry is keyed by the content it
//! is built from (and the lab), is used only after a byte-for-byte comparison shows the cached
//! copy was made from the same bytes, and is owned by root ("sealed") whenever no build runs, so
//! a student program (run as the owner user after the build) cannot re-date cargo's fingerprints
//! or swap the binaries a later grade would run. No parent of a build directory may be writable
//! by student code, or a build script could plant a `.cargo/config.toml` there for the next build.
//!
//! Only reads the submission (through `copy_walk` and `nofollow`); changes only cache entries.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::copy_walk;
use crate::nofollow;
use crate::scratch::{MAX_BYTES, MAX_ENTRIES};

/// Two FNV-1a 64-bit sums with different bases: an index, not a proof (see `same_trees`).
#[derive(Clone, Copy)]
struct Sum([u64; 2]);

impl Sum {
    fn new() -> Sum {
        Sum([0xcbf2_9ce4_8422_2325, 0x6c62_272e_07bb_0142])
    }

    fn add(&mut self, bytes: &[u8]) {
        for h in &mut self.0 {
            for byte in bytes {
                *h ^= u64::from(*byte);
                *h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }

    fn hex(self) -> String {
        format!("{:016x}{:016x}", self.0[0], self.0[1])
    }
}

/// The cache key of a submission for `lab_digest`: a digest of what the copy would hold (paths,
/// kinds, execute bits, link targets, bytes). Fails like the copy would (too large, unreadable).
pub fn content_key(lab_name: &str, lab_digest: &str, submission: &Path) -> io::Result<String> {
    let entries =
        copy_walk::list(submission, &[".git", "target"], MAX_ENTRIES).map_err(|e| match e {
            copy_walk::WalkError::TooLarge => io::Error::other("the submission is too large"),
            copy_walk::WalkError::Io { source, .. } => source,
        })?;
    let mut sum = Sum::new();
    sum.add(lab_digest.as_bytes());
    let mut budget = MAX_BYTES;
    for entry in &entries {
        sum.add(entry.rel.as_os_str().as_encoded_bytes());
        sum.add(&[0]);
        let ft = entry.meta.file_type();
        if ft.is_symlink() {
            sum.add(b"l");
            sum.add(fs::read_link(&entry.src)?.as_os_str().as_encoded_bytes());
        } else if ft.is_dir() {
            sum.add(b"d");
        } else if ft.is_file() {
            sum.add(if entry.meta.mode() & 0o111 != 0 {
                b"x"
            } else {
                b"f"
            });
            let bytes = nofollow::read_capped(&entry.src, budget)?;
            budget -= bytes.len() as u64;
            sum.add(&(bytes.len() as u64).to_le_bytes());
            sum.add(&bytes);
        }
        sum.add(&[0]);
    }
    Ok(format!("{lab_name}-{}", sum.hex()))
}

/// Whether the trees `a` and `b` hold exactly the same entries, kinds, link targets and bytes
/// (read without following links). Modes and times are not compared.
pub fn same_trees(a: &Path, b: &Path) -> bool {
    let list = |root: &Path| -> Option<Vec<(PathBuf, fs::Metadata)>> {
        let mut out = Vec::new();
        let mut pending = vec![PathBuf::new()];
        while let Some(rel) = pending.pop() {
            for entry in fs::read_dir(root.join(&rel)).ok()? {
                let entry = entry.ok()?;
                let path = rel.join(entry.file_name());
                let meta = fs::symlink_metadata(root.join(&path)).ok()?;
                if meta.is_dir() {
                    pending.push(path.clone());
                }
                out.push((path, meta));
                if out.len() > MAX_ENTRIES {
                    return None;
                }
            }
        }
        out.sort_by(|x, y| x.0.cmp(&y.0));
        Some(out)
    };
    let (Some(left), Some(right)) = (list(a), list(b)) else {
        return false;
    };
    left.len() == right.len()
        && left.iter().zip(&right).all(|((pa, ma), (pb, mb))| {
            let (fa, fb) = (ma.file_type(), mb.file_type());
            pa == pb
                && fa.is_dir() == fb.is_dir()
                && fa.is_file() == fb.is_file()
                && fa.is_symlink() == fb.is_symlink()
                && if fa.is_symlink() {
                    fs::read_link(a.join(pa)).ok() == fs::read_link(b.join(pb)).ok()
                } else if fa.is_file() {
                    ma.len() == mb.len()
                        && matches!(
                            (
                                nofollow::read_capped(&a.join(pa), MAX_BYTES),
                                nofollow::read_capped(&b.join(pb), MAX_BYTES)
                            ),
                            (Ok(x), Ok(y)) if x == y
                        )
                } else {
                    true
                }
        })
}

/// Whether `copy` holds exactly what a copy of `src` would (the entries the copy walk lists,
/// `.gitignore` applied, with their kinds, execute bits, link targets and bytes), read without
/// following links. A build seed is trusted only after this comparison (see `build_seed`).
pub fn copy_holds(src: &Path, copy: &Path) -> bool {
    let walk = |root: &Path| copy_walk::list(root, &[".git", "target"], MAX_ENTRIES).ok();
    let (Some(mut want), Some(mut have)) = (walk(src), walk(copy)) else {
        return false;
    };
    want.sort_by(|a, b| a.rel.cmp(&b.rel));
    have.sort_by(|a, b| a.rel.cmp(&b.rel));
    let mut budget = MAX_BYTES;
    want.len() == have.len() && want.iter().zip(&have).all(|(w, h)| {
        let (fw, fh) = (w.meta.file_type(), h.meta.file_type());
        if w.rel != h.rel
            || fw.is_dir() != fh.is_dir()
            || fw.is_file() != fh.is_file()
            || fw.is_symlink() != fh.is_symlink()
        {
            return false;
        }
        if fw.is_symlink() {
            return fs::read_link(&w.src).ok() == fs::read_link(&h.src).ok();
        }
        if !fw.is_file() {
            return fw.is_dir();
        }
        if (w.meta.mode() & 0o111 != 0) != (h.meta.mode() & 0o111 != 0)
            || w.meta.len() != h.meta.len()
            || w.meta.len() > budget
        {
            return false;
        }
        budget -= w.meta.len();
        matches!(
            (nofollow::read_capped(&w.src, MAX_BYTES), nofollow::read_capped(&h.src, MAX_BYTES)),
            (Ok(x), Ok(y)) if x == y
        )
    })
}

/// Gives the whole tree at `path` to root and takes every write bit from group and others, so
/// no student program can change it. Never follows a link. Fails if any entry could not be
/// sealed (the caller then throws the entry away).
pub fn seal(path: &Path) -> io::Result<()> {
    let mut pending = vec![path.to_path_buf()];
    while let Some(at) = pending.pop() {
        let meta = fs::symlink_metadata(&at)?;
        std::os::unix::fs::lchown(&at, Some(0), Some(0))?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.mode() & 0o7777 & !0o7022;
        fs::set_permissions(&at, fs::Permissions::from_mode(mode))?;
        if meta.is_dir() {
            for entry in fs::read_dir(&at)? {
                pending.push(entry?.path());
            }
        }
    }
    Ok(())
}

/// The first directory above `path` (or `path` itself) that someone other than root may write
/// in: not root's, or writable by group or others. None when only root can write all of them.
pub fn writable_ancestor(path: &Path) -> Option<PathBuf> {
    let mut at = fs::canonicalize(path)
        .ok()
        .or_else(|| Some(path.to_path_buf()));
    while let Some(dir) = at {
        if let Ok(meta) = fs::metadata(&dir)
            && (meta.uid() != 0 || meta.mode() & 0o022 != 0)
        {
            return Some(dir);
        }
        at = dir.parent().map(Path::to_path_buf);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_bytes_and_same_trees_compares_them() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        for dir in [a.path(), b.path()] {
            fs::create_dir(dir.join("src")).expect("mkdir");
            fs::write(dir.join("src/main.rs"), "fn main() {}").expect("write");
        }
        let key = |p: &Path| content_key("lab", "digest", p).expect("key");
        assert_eq!(
            key(a.path()),
            key(b.path()),
            "same bytes, other path: same key"
        );
        assert!(same_trees(a.path(), b.path()));
        fs::write(b.path().join("src/main.rs"), "fn main() { }").expect("write");
        assert_ne!(key(a.path()), key(b.path()));
        assert!(!same_trees(a.path(), b.path()));
        assert!(!copy_holds(a.path(), b.path()), "other bytes: not a copy");
        fs::write(b.path().join("src/main.rs"), "fn main() {}").expect("write");
        assert!(copy_holds(a.path(), b.path()));
        fs::write(b.path().join("extra.rs"), "").expect("write");
        assert!(!copy_holds(a.path(), b.path()), "one file more: not a copy");
        fs::remove_file(b.path().join("extra.rs")).expect("rm");
        fs::write(b.path().join("src/main.rs"), "fn main() { }").expect("write");
        assert_ne!(
            content_key("lab", "other", a.path()).expect("key"),
            key(a.path()),
            "another lab, another key"
        );
    }
}
