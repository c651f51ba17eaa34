//! Removing a directory tree of any depth with a bounded number of descriptors, and saying so when
//! it cannot. std's `remove_dir_all` keeps one descriptor per level and runs out of them in a
//! 25,000-level nest a build made; this walks down one level at a time (two descriptors open at
//! most), removes what is in each directory, and climbs back through `..`, checking that it came
//! back to the directory it left.
//!
//! As root, each directory is first given back to root and opened up (0700) before it is
//! entered, so root needs no CAP_DAC_OVERRIDE for trees the lab's users made unreadable. Must be
//! called only when no process that could change the tree is alive; never follows a link.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{
    AtFlags, Dir, FileType, Mode, OFlags, chmodat, chownat, fstat, openat, statat, unlinkat,
};

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

fn err(what: &str, depth: usize, e: rustix::io::Errno) -> io::Error {
    io::Error::new(
        io::Error::from(e).kind(),
        format!("{what} at depth {depth}: {e}"),
    )
}

/// Makes `name` in `dir` root's (when root) and 0700, so it can be listed and emptied.
fn open_up(dir: &OwnedFd, name: &OsStr) {
    if rustix::process::geteuid().is_root() {
        let _ = chownat(
            dir,
            name,
            Some(rustix::process::geteuid()),
            Some(rustix::process::getegid()),
            AtFlags::SYMLINK_NOFOLLOW,
        );
    }
    let _ = chmodat(dir, name, Mode::from_raw_mode(0o700), AtFlags::empty());
}

/// Removes `path` and everything under it. A path that does not exist is fine; anything left is
/// an error that says where.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path);
    }
    let parent_path = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "cannot remove /"))?;
    let parent = openat(rustix::fs::CWD, parent_path, dir_flags(), Mode::empty())
        .map_err(|e| err("open the parent", 0, e))?;
    open_up(&parent, name);
    let top = openat(&parent, name, dir_flags(), Mode::empty()).map_err(|e| err("open", 0, e))?;
    empty(top)?;
    unlinkat(&parent, name, AtFlags::REMOVEDIR).map_err(|e| err("remove the top directory", 0, e))
}

/// Empties the directory `top` (and everything below), iteratively.
fn empty(top: OwnedFd) -> io::Result<()> {
    // The directories above the current one: the name we went down by, and the (dev, ino) of the
    // directory we left, to check the way back up.
    let mut above: Vec<(OsString, u64, u64)> = Vec::new();
    let mut current = top;
    loop {
        let depth = above.len();
        let mut subdirectory: Option<OsString> = None;
        {
            let mut entries = Dir::read_from(&current).map_err(|e| err("list", depth, e))?;
            while let Some(entry) = entries.read() {
                let entry = entry.map_err(|e| err("list", depth, e))?;
                let name = OsStr::from_bytes(entry.file_name().to_bytes()).to_os_string();
                if name == "." || name == ".." {
                    continue;
                }
                let is_dir = match entry.file_type() {
                    FileType::Directory => true,
                    FileType::Unknown => statat(&current, &name, AtFlags::SYMLINK_NOFOLLOW)
                        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
                    _ => false,
                };
                if is_dir {
                    subdirectory = Some(name);
                    break;
                }
                unlinkat(&current, &name, AtFlags::empty())
                    .map_err(|e| err("remove a file", depth, e))?;
            }
        }
        match subdirectory {
            Some(name) => {
                open_up(&current, &name);
                let below = openat(&current, &name, dir_flags(), Mode::empty())
                    .map_err(|e| err("open a directory", depth + 1, e))?;
                let here = fstat(&current).map_err(|e| err("look at", depth, e))?;
                above.push((name, here.st_dev, here.st_ino));
                current = below;
            }
            None => {
                let Some((name, dev, ino)) = above.pop() else {
                    return Ok(());
                };
                let parent = openat(&current, "..", dir_flags(), Mode::empty())
                    .map_err(|e| err("climb back", depth, e))?;
                let back = fstat(&parent).map_err(|e| err("look at", depth - 1, e))?;
                if (back.st_dev, back.st_ino) != (dev, ino) {
                    return Err(io::Error::other(format!(
                        "the tree changed while it was removed (at depth {depth})"
                    )));
                }
                drop(current);
                unlinkat(&parent, &name, AtFlags::REMOVEDIR)
                    .map_err(|e| err("remove a directory", depth, e))?;
                current = parent;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_a_nest_deeper_than_any_descriptor_limit_and_path_length() {
        let base = tempfile::tempdir().expect("tempdir");
        let top = base.path().join("nest");
        std::fs::create_dir(&top).expect("mkdir");
        // 5,000 levels: deeper than PATH_MAX allows by name, and than a low RLIMIT_NOFILE.
        let mut dir = openat(rustix::fs::CWD, &top, dir_flags(), Mode::empty()).expect("open");
        for i in 0..5_000 {
            rustix::fs::mkdirat(&dir, "d", Mode::from_raw_mode(0o755)).expect("mkdir");
            if i % 100 == 0 {
                let file = openat(
                    &dir,
                    "f",
                    OFlags::CREATE | OFlags::WRONLY,
                    Mode::from_raw_mode(0o644),
                )
                .expect("file");
                drop(file);
            }
            let next = openat(&dir, "d", dir_flags(), Mode::empty()).expect("open");
            if i % 7 == 0 {
                let _ = chmodat(&dir, "d", Mode::from_raw_mode(0o500), AtFlags::empty());
            }
            dir = next;
        }
        drop(dir);
        remove_tree(&top).expect("removed");
        assert!(!top.exists());
        assert!(remove_tree(&top).is_ok(), "a missing tree is fine");
    }
}
