//! Files that student code left outside the scratch tree. The lab's users may write only in their
//! scratch directories and in the machine's shared writable directories (`/tmp`, `/var/tmp`,
//! `/dev/shm`, ...). Whatever they left in the shared ones is found here by its owner and removed
//! once grading is over, so nothing a student wrote outlives the run: no huge file filling the
//! disk, no planted file waiting for the grader or the next student (a fake report, a file named
//! like the grader's next temporary file).
//!
//! Must only be called when no process of those users is alive (after `kill_all_of_user`): then
//! nobody can swap a path between the look and the removal. Never follows a symbolic link, never
//! descends into a directory that is not world-writable (so a root-owned tree such as a scratch
//! or cache directory is never entered), and never removes anything not owned by the given users.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Identity, Limits, Spec, Stdin};

/// The directories every user may write in on a usual Linux system or container.
pub const SHARED_WRITABLE: &[&str] = &["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue"];

/// How deep world-writable directories inside those are searched (e.g. `/tmp/.X11-unix`).
const MAX_DEPTH: usize = 4;

/// Every path under [`SHARED_WRITABLE`] owned by one of `uids`, the topmost only (a directory of
/// theirs stands for everything in it).
pub fn files_of_users(uids: &[u32]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for base in SHARED_WRITABLE {
        collect(Path::new(base), uids, 0, &mut found);
    }
    found
}

fn collect(dir: &Path, uids: &[u32], depth: usize, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if uids.contains(&meta.uid()) {
            found.push(path);
        } else if meta.is_dir() && meta.mode() & 0o002 != 0 && depth < MAX_DEPTH {
            collect(&path, uids, depth + 1, found);
        }
    }
}

/// Removes everything [`files_of_users`] finds for `users` and returns how many paths it removed.
/// What root may not remove by itself (a directory the user made unreadable, in a container
/// without CAP_DAC_OVERRIDE) is removed by `rm` running as its owner.
pub fn remove_files_of_users(users: &[Identity]) -> io::Result<usize> {
    let uids: Vec<u32> = users.iter().map(|user| user.uid).collect();
    remove_paths(&files_of_users(&uids), users)
}

/// Removes `paths` (each owned by one of `users`), as root or else as the owner.
fn remove_paths(paths: &[PathBuf], users: &[Identity]) -> io::Result<usize> {
    let mut removed = 0;
    let mut failed = Vec::new();
    for path in paths {
        let path = path.clone();
        if remove(&path).is_ok() {
            removed += 1;
            continue;
        }
        let owner = fs::symlink_metadata(&path)
            .ok()
            .and_then(|meta| users.iter().find(|user| user.uid == meta.uid()));
        if let Some(owner) = owner {
            remove_as(owner, &path);
        }
        if fs::symlink_metadata(&path).is_ok() {
            failed.push(path);
        } else {
            removed += 1;
        }
    }
    if failed.is_empty() {
        Ok(removed)
    } else {
        Err(io::Error::other(format!(
            "could not remove {} file(s) the lab's users left: {}",
            failed.len(),
            failed
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

fn remove(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        // std's remove_dir_all works below an opened directory and never follows links.
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

fn remove_as(owner: &Identity, path: &Path) {
    let spec = Spec {
        program: "/bin/rm".into(),
        args: vec![
            "-rf".into(),
            "--one-file-system".into(),
            "--".into(),
            path.into(),
        ],
        cwd: PathBuf::from("/"),
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        stdin: Stdin::Null,
        identity: Some(owner.clone()),
        limits: Limits {
            cpu_seconds: 60,
            address_space: None,
            file_size: 0,
            processes: 16,
            open_files: 256,
        },
        deadline: Duration::from_secs(60),
        output_cap: 4096,
        isolate_network: false,
        ready_fd: None,
    };
    let _ = super::run(spec);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privilege;

    #[test]
    #[cfg_attr(
        not(ipc_lab_root),
        ignore = "needs root: it gives files to another user"
    )]
    fn finds_only_the_users_own_entries_and_removes_them() {
        let nobody = privilege::lookup("nobody").expect("user nobody exists");
        let mine = tempfile::Builder::new()
            .prefix("ipc-lab-leftover-test-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let planted = PathBuf::from(format!("/tmp/ipc-lab-leftover-{}", std::process::id()));
        fs::create_dir(&planted).expect("mkdir");
        fs::write(planted.join("inside"), "x").expect("write");
        std::os::unix::fs::lchown(&planted, Some(nobody.uid), Some(nobody.gid)).expect("chown");
        let found = files_of_users(&[nobody.uid]);
        assert!(found.contains(&planted), "{found:?}");
        assert!(!found.iter().any(|p| p.starts_with(mine.path())));
        // Only the planted path: other tests may own files as nobody right now.
        let removed = remove_paths(
            std::slice::from_ref(&planted),
            std::slice::from_ref(&nobody),
        )
        .expect("removed");
        assert_eq!(removed, 1);
        assert!(!planted.exists());
        assert!(mine.path().exists(), "root's own directory was left alone");
    }
}
