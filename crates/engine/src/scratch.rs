//! The grader's scratch tree for one submission: a private copy of the submission to build in,
//! a run directory with fresh fixtures, and a home for student processes. The submission itself is
//! only ever read; every write of a grading run lands here, and the tree is removed afterwards.
//!
//! Layout (modes when the grader is root):
//! ```text
//! ipc-lab-XXXXXX/      root 0711   nobody can list it
//!   build/             owner 0755  copy of the submission; the build writes here
//!   home/              owner 0700  HOME of the owner's processes
//!   cargo-home/        owner 0755  private CARGO_HOME of the build
//!   run/               root  0755  where programs run; students cannot write here
//!     secret.txt       owner 0600  (from the lab's [[fixtures]])
//!     litterbox/       garfield:users 0775
//! ```
//!
//! In a batch slot (see `grade::Options::slot`) the root is `root:<slot group> 0710` instead, so
//! only that slot's two users can walk into it.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use lab::Fixture;
use sandbox::Identity;

/// Top-level entries of a submission that are not copied: history and old build output.
const NOT_COPIED: &[&str] = &[".git", "target"];
/// Bounds on what a submission may hold, so a hostile one cannot fill the disk through the copy.
pub const MAX_ENTRIES: usize = 20_000;
pub const MAX_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the submission is too large to grade: more than {MAX_ENTRIES} files or {} MiB", MAX_BYTES >> 20)]
    TooLarge,
    #[error("the tree is nested more than {MAX_COPY_DEPTH} directories deep")]
    TooDeep,
}

/// How deep [`copy_exact`] goes: a build's output nested deeper is not copied (a build can make a
/// nest of any depth in its own copy, and the copy must not exhaust the stack).
pub const MAX_COPY_DEPTH: usize = 128;

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ScratchError + 'a {
    move |source| ScratchError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// The ids student processes and fixtures get, by role; empty when the grader is not root.
#[derive(Debug, Clone, Default)]
pub struct Owners {
    /// The lab's first role: it owns the build, HOME and, by default, the fixtures.
    pub owner: Option<Identity>,
    /// Every role's identity (the first one included), by role id.
    pub roles: BTreeMap<String, Identity>,
}

impl Owners {
    pub fn of(&self, role: &str) -> Option<&Identity> {
        self.roles.get(role)
    }

    /// Every identity of the run, the first role's first.
    pub fn all(&self) -> Vec<Identity> {
        let mut all: Vec<Identity> = self.owner.iter().cloned().collect();
        all.extend(
            self.roles
                .values()
                .filter(|id| self.owner.as_ref() != Some(*id))
                .cloned(),
        );
        all
    }
}

#[derive(Debug)]
pub struct Scratch {
    pub root: PathBuf,
    /// The previous grade's copy of a cached build directory, kept during the copy so files whose
    /// content did not change keep their old modification time (see `copy_tree`).
    previous_build: Option<PathBuf>,
    pub build: PathBuf,
    pub run: PathBuf,
    pub home: PathBuf,
    pub cargo_home: PathBuf,
    /// Set by `copy_submission`: the new copy holds exactly the bytes of the cached build
    /// directory's last copy (see `build_cache::same_trees`), so its build output may be reused.
    same_as_cached: std::sync::atomic::AtomicBool,
}

fn mkdir(path: &Path, mode: u32) -> Result<(), ScratchError> {
    fs::DirBuilder::new()
        .mode(mode)
        .create(path)
        .map_err(io_err("create directory", path))?;
    // The umask may have narrowed the mode.
    chmod(path, mode)
}

fn chmod(path: &Path, mode: u32) -> Result<(), ScratchError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io_err("set the mode of", path))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), ScratchError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(io_err("change the owner of", path))
}

impl Scratch {
    /// Makes a fresh, unguessable scratch tree under `parent`.
    pub fn create(parent: &Path, owners: &Owners) -> Result<Scratch, ScratchError> {
        let root = tempfile::Builder::new()
            .prefix("ipc-lab-")
            .tempdir_in(parent)
            .map_err(io_err("create a scratch directory in", parent))?
            .keep();
        chmod(&root, 0o711)?;
        let scratch = Scratch {
            same_as_cached: std::sync::atomic::AtomicBool::new(false),
            previous_build: None,
            build: root.join("build"),
            run: root.join("run"),
            home: root.join("home"),
            cargo_home: root.join("cargo-home"),
            root,
        };
        mkdir(&scratch.build, 0o755)?;
        mkdir(&scratch.home, 0o700)?;
        mkdir(&scratch.cargo_home, 0o755)?;
        mkdir(&scratch.run, 0o755)?;
        if let Some(owner) = &owners.owner {
            // `build/` stays root's until the submission is copied in (`copy_submission`): root
            // may lack CAP_DAC_OVERRIDE (Docker with --cap-drop ALL) and could not write there.
            for dir in [&scratch.home, &scratch.cargo_home] {
                chown(dir, owner.uid, owner.gid)?;
            }
        }
        Ok(scratch)
    }

    /// Closes the tree to everyone but root and the members of `gid`: a batch slot's own group,
    /// which only that slot's two users are in. Users of other slots (the same lab's users under
    /// other numbers) then cannot even walk into it, though they know the fixtures' names.
    pub fn confine_to_group(&self, gid: u32) -> Result<(), ScratchError> {
        std::os::unix::fs::lchown(&self.root, None, Some(gid))
            .map_err(io_err("change the group of", &self.root))?;
        chmod(&self.root, 0o710)
    }

    /// Copies the submission into `build/`: regular files (without setuid/setgid bits),
    /// directories, and links as links (never followed); FIFOs and devices are left out.
    /// When root, the copy is given to the owner user so the build can write in it.
    pub fn copy_submission(&self, from: &Path, owners: &Owners) -> Result<(), ScratchError> {
        let mut budget = (MAX_ENTRIES, MAX_BYTES);
        copy_tree(
            from,
            &self.build,
            self.previous_build.as_deref(),
            &mut budget,
        )?;
        if let Some(previous) = &self.previous_build {
            self.same_as_cached.store(
                crate::build_cache::same_trees(previous, &self.build),
                std::sync::atomic::Ordering::Relaxed,
            );
            crate::tree_removal::remove_tree(previous).map_err(io_err("remove", previous))?;
        }
        if let Some(owner) = &owners.owner {
            chown_tree(&self.build, owner)?;
        }
        Ok(())
    }

    /// Whether the copy `copy_submission` made holds the same bytes as the cached build
    /// directory's last copy (false when there was none).
    pub fn copy_matched_cache(&self) -> bool {
        self.same_as_cached
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Fills `build/` with an exact copy of `from` (a tree the grader made, see
    /// `batch::made`), then gives it to the owner user as `copy_submission` does.
    pub fn fill_build(&self, from: &Path, owners: &Owners) -> Result<(), ScratchError> {
        let mut budget = (MAX_ENTRIES, MAX_BYTES);
        copy_exact(from, &self.build, &mut budget)?;
        if let Some(owner) = &owners.owner {
            chown_tree(&self.build, owner)?;
        }
        Ok(())
    }

    /// Writes the fixtures into `run/` with their modes and owners. Ownership is handed over
    /// deepest first, after everything is written, so the grader never writes into a directory it
    /// no longer owns (it needs no CAP_DAC_OVERRIDE).
    pub fn lay_out_fixtures(
        &self,
        fixtures: &[Fixture],
        contents: &BTreeMap<String, String>,
        owners: &Owners,
    ) -> Result<(), ScratchError> {
        self.lay_out_fixtures_in(&self.run, fixtures, contents, owners)
    }

    /// `lay_out_fixtures` into another directory of the scratch tree (a check of its own).
    pub fn lay_out_fixtures_in(
        &self,
        dir: &Path,
        fixtures: &[Fixture],
        contents: &BTreeMap<String, String>,
        owners: &Owners,
    ) -> Result<(), ScratchError> {
        for f in fixtures {
            let path = dir.join(&f.path);
            match contents.get(&f.id) {
                None => mkdir(&path, f.mode)?,
                Some(text) => {
                    fs::write(&path, text).map_err(io_err("write", &path))?;
                    chmod(&path, f.mode)?;
                }
            }
        }
        for f in fixtures.iter().rev() {
            let Some(user) = owners.of(&f.owner) else {
                continue;
            };
            let gid = match &f.group {
                Some(name) => uzers::get_group_by_name(name)
                    .map(|g| g.gid())
                    .ok_or_else(|| ScratchError::Io {
                        what: "find the group for",
                        path: dir.join(&f.path),
                        source: io::Error::new(
                            io::ErrorKind::NotFound,
                            format!("no group named `{name}`"),
                        ),
                    })?,
                None => user.gid,
            };
            chown(&dir.join(&f.path), user.uid, gid)?;
        }
        Ok(())
    }

    /// Builds in `dir` instead of `build/`: a directory at a stable path (cargo's build cache is
    /// keyed by the source path), emptied of the previous grade's copy first. Its parent must be
    /// owned by the grader. When root, the old copy is taken back from the owner user before it is
    /// removed, so no CAP_DAC_OVERRIDE is needed.
    pub fn use_build_dir(&mut self, dir: PathBuf, owners: &Owners) -> Result<(), ScratchError> {
        let previous = dir.with_extension("previous");
        if fs::symlink_metadata(&previous).is_ok() {
            crate::tree_removal::remove_tree(&previous).map_err(io_err("remove", &previous))?;
        }
        if fs::symlink_metadata(&dir).is_ok() {
            if owners.owner.is_some() {
                take_back(&dir);
            }
            open_up(&dir);
            fs::rename(&dir, &previous)
                .map_err(io_err("set aside the cached build directory", &dir))?;
            self.previous_build = Some(previous);
        }
        mkdir(&dir, 0o755)?;
        self.build = dir;
        Ok(())
    }

    /// Removes the tree. When root, everything in it is first taken back from the lab's users
    /// (lchown needs only CAP_CHOWN), so no CAP_DAC_OVERRIDE is needed to remove what they own
    /// (their home, the garfield-owned litterbox); read-only directories are opened up first.
    pub fn remove(&self, owners: &Owners) -> Result<(), ScratchError> {
        let _ = owners;
        // Any depth, a bounded number of descriptors, ownership taken back on the way.
        crate::tree_removal::remove_tree(&self.root).map_err(|e| ScratchError::Io {
            what: "remove",
            path: self.root.clone(),
            source: e,
        })
    }
}

/// Gives a whole tree to `owner` (links themselves, never their targets). A batch uses it when a
/// submission's cached build output was last written by another slot's owner user.
pub fn hand_over_tree(path: &Path, owner: &Identity) -> Result<(), ScratchError> {
    chown(path, owner.uid, owner.gid)?;
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        for entry in fs::read_dir(path).map_err(io_err("read directory", path))? {
            let entry = entry.map_err(io_err("read directory", path))?;
            hand_over_tree(&entry.path(), owner)?;
        }
    }
    Ok(())
}

/// Removes whatever is under `dir` (and `dir` itself), even trees a killed grading run left
/// behind owned by the lab's users with read-only directories: they are taken back and opened up
/// first, so root needs no CAP_DAC_OVERRIDE. Best effort; says whether `dir` is gone.
pub fn remove_leftovers(dir: &Path) -> bool {
    if fs::symlink_metadata(dir).is_err() {
        return true;
    }
    if let Err(e) = crate::tree_removal::remove_tree(dir) {
        eprintln!("grader: warning: cannot remove {}: {e}", dir.display());
    }
    fs::symlink_metadata(dir).is_err()
}

/// Best effort: make every directory writable by its owner so removal can proceed.
fn open_up(dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(
        dir,
        fs::Permissions::from_mode(meta.permissions().mode() | 0o700),
    );
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            open_up(&e.path());
        }
    }
}

/// Gives a tree back to the grader's own user (links themselves, never their targets).
fn take_back(path: &Path) {
    let me = nix::unistd::geteuid().as_raw();
    let _ = std::os::unix::fs::lchown(path, Some(me), Some(nix::unistd::getegid().as_raw()));
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
        && let Ok(entries) = fs::read_dir(path)
    {
        for e in entries.flatten() {
            take_back(&e.path());
        }
    }
}

/// Copies what git would commit: the submission's own .gitignore files are honoured (so build
/// output and caches a student left lying around are not copied), links are copied as links.
///
/// Modification times: a file identical to the one at the same place in `previous` (the last
/// grade's copy) gets that copy's time, anything else the time of copying. Build tools then
/// rebuild exactly what changed, even when a different working copy (with older times) is graded
/// at the same path, where keeping the submission's own times would make them skip a rebuild.
fn copy_tree(
    from: &Path,
    to: &Path,
    previous: Option<&Path>,
    budget: &mut (usize, u64),
) -> Result<(), ScratchError> {
    // Iterative, never through a link, .gitignore files read with no-follow and a cap (see
    // `copy_walk`); the entry budget is checked as it goes.
    let entries = crate::copy_walk::list(from, NOT_COPIED, budget.0).map_err(|e| match e {
        crate::copy_walk::WalkError::TooLarge => ScratchError::TooLarge,
        crate::copy_walk::WalkError::Io { path, source } => ScratchError::Io {
            what: "read",
            path,
            source,
        },
    })?;
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    for entry in &entries {
        let src = entry.src.as_path();
        let rel = entry.rel.as_path();
        let dst = to.join(rel);
        budget.0 = budget.0.checked_sub(1).ok_or(ScratchError::TooLarge)?;
        let meta = &entry.meta;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(src).map_err(io_err("read link", src))?;
            symlink(&target, &dst).map_err(io_err("copy link", &dst))?;
        } else if ft.is_dir() {
            mkdir(&dst, 0o755)?;
            dirs.push((dst, (meta.permissions().mode() & 0o777) | 0o700));
        } else if ft.is_file() {
            budget.1 = budget
                .1
                .checked_sub(meta.len())
                .ok_or(ScratchError::TooLarge)?;
            // Opened with no-follow, checked regular on the descriptor, at most the budget.
            let copied = crate::nofollow::copy_capped(src, &dst, budget.1 + meta.len())
                .map_err(io_err("copy", src))?;
            budget.1 = (budget.1 + meta.len())
                .checked_sub(copied)
                .ok_or(ScratchError::TooLarge)?;
            if let Some(old) = previous.map(|p| p.join(rel))
                && let Ok(old_meta) = fs::symlink_metadata(&old)
                && old_meta.is_file()
                && old_meta.len() == meta.len()
                && same_bytes(&old, &dst)
                && let Ok(modified) = old_meta.modified()
            {
                let _ = fs::File::options()
                    .write(true)
                    .open(&dst)
                    .and_then(|f| f.set_modified(modified));
            }
            // Keep the execute bits (scripts), drop setuid/setgid/sticky.
            chmod(&dst, (meta.permissions().mode() & 0o777) | 0o600)?;
        }
    }
    // Directory modes last, so a read-only directory does not stop its own copy.
    for (dir, mode) in dirs.iter().rev() {
        chmod(dir, *mode)?;
    }
    Ok(())
}

/// What `copy_submission` would put in `build/`, copied to `to` instead (a directory the caller
/// made): the submission's files less what its .gitignore files ignore, within the size bounds.
pub fn copy_filtered(from: &Path, to: &Path) -> Result<(), ScratchError> {
    let mut budget = (MAX_ENTRIES, MAX_BYTES);
    copy_tree(from, to, None, &mut budget)
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    // `a` is in the last build copy, which student code could write: never through a link.
    match (
        crate::nofollow::read_capped(a, MAX_BYTES),
        crate::nofollow::read_capped(b, MAX_BYTES),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Copies every entry of `from` into the existing directory `to`, ignoring no file: regular files
/// (with their modification times, without setuid/setgid bits), directories, and links as links.
/// FIFOs and devices are left out; `budget` bounds the entries and bytes as for a submission.
pub fn copy_exact(from: &Path, to: &Path, budget: &mut (usize, u64)) -> Result<(), ScratchError> {
    copy_exact_within(from, to, budget, 0)
}

fn copy_exact_within(
    from: &Path,
    to: &Path,
    budget: &mut (usize, u64),
    depth: usize,
) -> Result<(), ScratchError> {
    if depth >= MAX_COPY_DEPTH {
        return Err(ScratchError::TooDeep);
    }
    for entry in fs::read_dir(from).map_err(io_err("read directory", from))? {
        let src = entry.map_err(io_err("read directory", from))?.path();
        let Some(name) = src.file_name() else {
            continue;
        };
        copy_exact_entry_within(&src, &to.join(name), budget, depth)?;
    }
    Ok(())
}

/// `copy_exact` of one entry: a link as a link, a directory with everything in it, a regular
/// file with its modification time (make and cargo decide what to rebuild by these times).
/// Anything else (a FIFO, a device, a socket) is left out.
pub fn copy_exact_entry(
    src: &Path,
    dst: &Path,
    budget: &mut (usize, u64),
) -> Result<(), ScratchError> {
    copy_exact_entry_within(src, dst, budget, 0)
}

fn copy_exact_entry_within(
    src: &Path,
    dst: &Path,
    budget: &mut (usize, u64),
    depth: usize,
) -> Result<(), ScratchError> {
    budget.0 = budget.0.checked_sub(1).ok_or(ScratchError::TooLarge)?;
    let meta = fs::symlink_metadata(src).map_err(io_err("inspect", src))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(src).map_err(io_err("read link", src))?;
        symlink(&target, dst).map_err(io_err("copy link", dst))?;
    } else if ft.is_dir() {
        mkdir(dst, 0o755)?;
        copy_exact_within(src, dst, budget, depth + 1)?;
        chmod(dst, (meta.permissions().mode() & 0o777) | 0o700)?;
    } else if ft.is_file() {
        budget.1 = budget
            .1
            .checked_sub(meta.len())
            .ok_or(ScratchError::TooLarge)?;
        crate::nofollow::copy_capped(src, dst, meta.len()).map_err(io_err("copy", src))?;
        if let Ok(modified) = meta.modified() {
            let _ = fs::File::options()
                .write(true)
                .open(dst)
                .and_then(|f| f.set_modified(modified));
        }
        chmod(dst, (meta.permissions().mode() & 0o777) | 0o600)?;
    }
    Ok(())
}

fn chown_tree(dir: &Path, owner: &Identity) -> Result<(), ScratchError> {
    chown(dir, owner.uid, owner.gid)?;
    for entry in fs::read_dir(dir).map_err(io_err("read directory", dir))? {
        let path = entry.map_err(io_err("read directory", dir))?.path();
        let meta = fs::symlink_metadata(&path).map_err(io_err("inspect", &path))?;
        if meta.is_dir() {
            chown_tree(&path, owner)?;
        } else {
            chown(&path, owner.uid, owner.gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mtime(p: &Path) -> std::time::SystemTime {
        fs::metadata(p).expect("meta").modified().expect("mtime")
    }

    fn set_mtime(p: &Path, secs_ago: u64) {
        let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs_ago);
        fs::File::options()
            .write(true)
            .open(p)
            .expect("open")
            .set_modified(t)
            .expect("set");
    }

    /// Grading another working copy at the same path must rebuild what differs, even when its
    /// files are older than the last build's (the cache bug seen with `/submission` in Docker).
    #[test]
    fn cached_build_copy_times_follow_content_not_the_submission() {
        let parent = tempfile::tempdir().expect("tempdir");
        let cache = tempfile::tempdir().expect("tempdir");
        let build_dir = cache.path().join("build");
        let newer = tempfile::tempdir().expect("tempdir");
        let older = tempfile::tempdir().expect("tempdir");
        fs::write(newer.path().join("main.rs"), "broken").expect("write");
        fs::write(newer.path().join("same.rs"), "same").expect("write");
        fs::write(older.path().join("main.rs"), "fixed").expect("write");
        fs::write(older.path().join("same.rs"), "same").expect("write");
        set_mtime(&older.path().join("main.rs"), 3600);
        set_mtime(&older.path().join("same.rs"), 3600);
        let grade_copy = |from: &Path| {
            let mut s = Scratch::create(parent.path(), &Owners::default()).expect("scratch");
            s.use_build_dir(build_dir.clone(), &Owners::default())
                .expect("build dir");
            s.copy_submission(from, &Owners::default()).expect("copy");
            let times = (
                mtime(&build_dir.join("main.rs")),
                mtime(&build_dir.join("same.rs")),
            );
            s.remove(&Owners::default()).expect("remove");
            times
        };
        let (main1, same1) = grade_copy(newer.path());
        let (main2, same2) = grade_copy(older.path());
        assert!(
            main2 >= main1,
            "changed content must look newer to the build tool"
        );
        assert_eq!(
            same2, same1,
            "unchanged content keeps its time, so nothing is rebuilt"
        );
        assert_eq!(
            fs::read_to_string(build_dir.join("main.rs")).expect("read"),
            "fixed"
        );
        let (main3, _) = grade_copy(older.path());
        assert_eq!(main3, main2, "a regrade of the same copy rebuilds nothing");
        assert!(!cache.path().join("build.previous").exists());
    }

    #[test]
    fn copy_skips_what_gitignore_ignores() {
        let src = tempfile::tempdir().expect("tempdir");
        let parent = tempfile::tempdir().expect("tempdir");
        let s = src.path();
        fs::write(s.join(".gitignore"), "/big/\n*.log\n").expect("write");
        fs::create_dir_all(s.join("big")).expect("mkdir");
        fs::write(s.join("big/blob"), "x").expect("write");
        fs::write(s.join("output.log"), "x").expect("write");
        fs::write(s.join("keep.rs"), "x").expect("write");
        let scratch = Scratch::create(parent.path(), &Owners::default()).expect("scratch");
        scratch
            .copy_submission(s, &Owners::default())
            .expect("copy");
        assert!(scratch.build.join("keep.rs").exists());
        assert!(scratch.build.join(".gitignore").exists());
        assert!(!scratch.build.join("big").exists());
        assert!(!scratch.build.join("output.log").exists());
        scratch.remove(&Owners::default()).expect("remove");
    }

    #[test]
    fn copy_keeps_files_and_links_skips_git_and_target() {
        let src = tempfile::tempdir().expect("tempdir");
        let parent = tempfile::tempdir().expect("tempdir");
        let s = src.path();
        fs::create_dir_all(s.join("a/b")).expect("mkdir");
        fs::create_dir_all(s.join(".git/refs")).expect("mkdir");
        fs::create_dir_all(s.join("target/release")).expect("mkdir");
        fs::write(s.join("a/b/f.txt"), "x").expect("write");
        fs::write(s.join("run.sh"), "#!/bin/sh").expect("write");
        fs::set_permissions(s.join("run.sh"), fs::Permissions::from_mode(0o4755)).expect("chmod");
        symlink("/etc/passwd", s.join("link")).expect("symlink");
        let scratch = Scratch::create(parent.path(), &Owners::default()).expect("scratch");
        scratch
            .copy_submission(s, &Owners::default())
            .expect("copy");
        assert_eq!(
            fs::read_to_string(scratch.build.join("a/b/f.txt")).expect("read"),
            "x"
        );
        let mode = fs::metadata(scratch.build.join("run.sh"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755, "setuid bit dropped, exec kept");
        assert!(
            fs::symlink_metadata(scratch.build.join("link"))
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        assert!(!scratch.build.join(".git").exists());
        assert!(!scratch.build.join("target").exists());
        scratch.remove(&Owners::default()).expect("remove");
        assert!(!scratch.root.exists());
    }

    #[test]
    fn fixtures_get_their_modes() {
        let parent = tempfile::tempdir().expect("tempdir");
        let scratch = Scratch::create(parent.path(), &Owners::default()).expect("scratch");
        // The ipc lab's fixtures, with only the kinds the engine has.
        let text = r#"
[lab]
name = "fixtures"
title = "fixtures"
[users]
owner = "labowner"
confined = "garfield"
confined_groups = ["users"]
[[fixtures]]
id = "secret"
path = "secret.txt"
content = "Hey! This is a secret!"
owner = "owner"
mode = "0600"
[[fixtures]]
id = "litterbox"
path = "litterbox"
dir = true
owner = "confined"
group = "users"
mode = "0775"
[[fixtures]]
id = "treasure"
path = "litterbox/treasure.txt"
content = "Treasure found!"
mode = "0644"
[[parts]]
id = "p"
title = "p"
points = 1
[[checks]]
id = "c"
part = "p"
title = "c"
points = 1
kind = "files-exist"
paths = ["secret.txt"]
"#;
        let lab = lab::Lab::parse(text, "test", crate::Registry::builtin().kinds()).expect("lab");
        let contents: BTreeMap<String, String> = lab
            .fixtures
            .iter()
            .filter_map(|f| f.content.clone().map(|c| (f.id.clone(), c)))
            .collect();
        scratch
            .lay_out_fixtures(&lab.fixtures, &contents, &Owners::default())
            .expect("fixtures");
        let mode = |p: &str| {
            fs::metadata(scratch.run.join(p))
                .expect("meta")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("secret.txt"), 0o600);
        assert_eq!(mode("litterbox"), 0o775);
        assert_eq!(
            fs::read_to_string(scratch.run.join("litterbox/treasure.txt")).expect("read"),
            "Treasure found!"
        );
        scratch.remove(&Owners::default()).expect("remove");
    }

    #[test]
    fn copy_exact_refuses_a_nest_deeper_than_its_limit_instead_of_exhausting_the_stack() {
        let from = tempfile::tempdir().expect("tempdir");
        let mut deep = from.path().to_path_buf();
        for _ in 0..MAX_COPY_DEPTH + 5 {
            deep.push("d");
        }
        fs::create_dir_all(&deep).expect("nest");
        let to = tempfile::tempdir().expect("tempdir");
        let mut budget = (MAX_ENTRIES, MAX_BYTES);
        assert!(matches!(
            copy_exact(from.path(), to.path(), &mut budget),
            Err(ScratchError::TooDeep)
        ));
        // Shallower than the limit, it copies.
        let shallow = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(shallow.path().join("a/b/c")).expect("mkdir");
        fs::write(shallow.path().join("a/b/c/f"), "x").expect("write");
        let to = tempfile::tempdir().expect("tempdir");
        copy_exact(shallow.path(), to.path(), &mut budget).expect("copies");
        assert_eq!(fs::read(to.path().join("a/b/c/f")).expect("copied"), b"x");
    }
}
