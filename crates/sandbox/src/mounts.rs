//! The mount view of a pod, laid out by its init in the pod's new mount namespace (see
//! `pod_init`): every mount made private, empty tmpfs over the shared writable directories and
//! over the directories that hold other students' data, the check's own directories shown again at
//! their paths, a fresh /proc for the pod's PID namespace and a fresh mqueue file system.
//!
//! Runs only in a pod's init, never in the grader: a mistake here changes the pod's view only.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};

use super::pod::View;

/// The shared writable directories a pod gets empty copies of (`private_tmp`).
const PRIVATE: &[&str] = &["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];

fn errored(what: &str, path: &Path, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

/// Lays out `view`; fails with words (the pod then does not start).
pub(super) fn prepare(view: &View) -> Result<(), String> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("make / private: {e}"))?;

    let mut covered: Vec<(PathBuf, &str)> = Vec::new();
    if view.private_tmp {
        covered.extend(
            PRIVATE
                .iter()
                .map(|p| (PathBuf::from(p), "mode=1777,size=1g")),
        );
    }
    for path in &view.hide {
        if !covered.iter().any(|(dir, _)| dir == path) {
            covered.push((path.clone(), "mode=0755,size=1m"));
        }
    }
    covered.sort_by_key(|(path, _)| path.components().count());
    covered.retain(|(path, _)| path != Path::new("/"));

    // Opened before anything is covered, so they can be shown again afterwards.
    let shown: Vec<(PathBuf, bool, OwnedFd)> = view
        .writable
        .iter()
        .map(|p| (p, true))
        .chain(view.read_only.iter().map(|p| (p, false)))
        .filter(|(path, writable)| {
            *writable || covered.iter().any(|(dir, _)| path.starts_with(dir))
        })
        .filter_map(|(path, writable)| {
            let file = fs::File::options()
                .read(true)
                .custom_flags_path()
                .open(path)
                .ok()?;
            Some((path.clone(), writable, OwnedFd::from(file)))
        })
        .collect();

    for (dir, options) in &covered {
        // One covered by an earlier (shallower) tmpfs is gone already.
        if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        mount(
            Some("tmpfs"),
            dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(*options),
        )
        .map_err(|e| errored("mount a tmpfs on", dir, e))?;
    }
    for (path, writable, fd) in &shown {
        if !covered.iter().any(|(dir, _)| path.starts_with(dir)) {
            continue;
        }
        fs::create_dir_all(path).map_err(|e| errored("make the mount point", path, e))?;
        let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
        mount(
            Some(source.as_str()),
            path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| errored("show again", path, e))?;
        if !writable {
            mount(
                None::<&str>,
                path,
                None::<&str>,
                MsFlags::MS_BIND
                    | MsFlags::MS_REMOUNT
                    | MsFlags::MS_RDONLY
                    | MsFlags::MS_NOSUID
                    | MsFlags::MS_NODEV,
                None::<&str>,
            )
            .map_err(|e| errored("make read-only", path, e))?;
        }
    }
    drop(shown);

    if fs::symlink_metadata("/dev/mqueue").is_ok_and(|m| m.is_dir()) {
        mount(
            Some("mqueue"),
            "/dev/mqueue",
            Some("mqueue"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(|e| format!("mount mqueue: {e}"))?;
    }
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| format!("mount a fresh /proc: {e}"))?;
    Ok(())
}

/// `O_PATH | O_DIRECTORY | O_NOFOLLOW` on an `OpenOptions`.
trait PathOnly {
    fn custom_flags_path(&mut self) -> &mut Self;
}

impl PathOnly for fs::OpenOptions {
    fn custom_flags_path(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(nix::libc::O_PATH | nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW)
    }
}
