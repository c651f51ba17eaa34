//! What the lab's users leave in the kernel besides processes and files: SysV shared memory,
//! message queues and semaphores, POSIX message queues, and keys in their user keyrings. Pods with
//! an IPC namespace take the IPC objects with them; this finds and removes whatever exists in the
//! grader's own namespace (pods without namespaces, processes started outside pods) and empties
//! the users' keyrings, which no namespace separates.
//!
//! Call only when no process of those users is left (after `kill_all_of_user`). The helper that
//! acts as a user is bounded: it is killed if it does not end in time (a student process that
//! still ran could stop it), so nothing here waits without a deadline.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use nix::libc;
use nix::unistd::{self, ForkResult};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{PidfdFlags, pidfd_open, pidfd_send_signal};

use super::Identity;

/// How long a helper acting as a user may take.
const HELPER_BOUND: Duration = Duration::from_secs(2);

/// What one user has left in the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserResidue {
    pub shared_memory: usize,
    pub message_queues: usize,
    pub semaphores: usize,
    /// Entries in /dev/mqueue (only where it is mounted).
    pub posix_queues: usize,
    /// Keys in the user's user and user-session keyrings.
    pub keys: usize,
}

impl UserResidue {
    pub fn ipc_objects(&self) -> usize {
        self.shared_memory + self.message_queues + self.semaphores + self.posix_queues
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Shm,
    Msg,
    Sem,
}

const KINDS: [(Kind, &str, &str); 3] = [
    (Kind::Shm, "/proc/sysvipc/shm", "shmid"),
    (Kind::Msg, "/proc/sysvipc/msg", "msqid"),
    (Kind::Sem, "/proc/sysvipc/sem", "semid"),
];

/// The ids of `kind` objects owned or created by `uid`, from /proc/sysvipc.
fn sysv_ids(kind: Kind, uid: u32) -> Vec<i32> {
    let Some((_, path, id_column)) = KINDS.iter().find(|(k, _, _)| *k == kind) else {
        return Vec::new();
    };
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(id_at), Some(uid_at), Some(cuid_at)) = (at(id_column), at("uid"), at("cuid")) else {
        return Vec::new();
    };
    lines
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let id: i32 = fields.get(id_at)?.parse().ok()?;
            let owner: u32 = fields.get(uid_at)?.parse().ok()?;
            let creator: u32 = fields.get(cuid_at)?.parse().ok()?;
            (owner == uid || creator == uid).then_some(id)
        })
        .collect()
}

fn posix_queues(uid: u32) -> Vec<std::path::PathBuf> {
    fs::read_dir("/dev/mqueue")
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| fs::symlink_metadata(e.path()).is_ok_and(|m| m.uid() == uid))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// What `user` has left (keys are counted by a bounded helper acting as the user; as root only).
pub fn residue_of_user(user: &Identity) -> UserResidue {
    UserResidue {
        shared_memory: sysv_ids(Kind::Shm, user.uid).len(),
        message_queues: sysv_ids(Kind::Msg, user.uid).len(),
        semaphores: sysv_ids(Kind::Sem, user.uid).len(),
        posix_queues: posix_queues(user.uid).len(),
        keys: as_user(user, &Plan::default(), true).unwrap_or(0),
    }
}

/// Removes every IPC object of `users` and empties their keyrings; returns how many objects and
/// keys went. Fails (saying what is left) when something could not be removed.
pub fn clear_residue_of_users(users: &[Identity]) -> io::Result<usize> {
    let mut removed = 0;
    let mut left = Vec::new();
    for user in users {
        let before = residue_of_user(user);
        let mut plan = Plan::default();
        for (kind, ids) in [
            (Kind::Shm, &mut plan.shm),
            (Kind::Msg, &mut plan.msg),
            (Kind::Sem, &mut plan.sem),
        ] {
            for id in sysv_ids(kind, user.uid) {
                // As root with CAP_SYS_ADMIN; otherwise the helper removes it as its owner.
                if !remove_sysv(kind, id) {
                    ids.push(id);
                }
            }
        }
        for queue in posix_queues(user.uid) {
            let _ = fs::remove_file(queue);
        }
        let _ = as_user(user, &plan, false);
        let after = residue_of_user(user);
        removed +=
            (before.ipc_objects() + before.keys).saturating_sub(after.ipc_objects() + after.keys);
        if after != UserResidue::default() {
            left.push(format!("{}: {after:?}", user.name));
        }
    }
    if left.is_empty() {
        Ok(removed)
    } else {
        Err(io::Error::other(format!(
            "IPC objects or keys of the lab's users are left: {}",
            left.join("; ")
        )))
    }
}

fn remove_sysv(kind: Kind, id: i32) -> bool {
    // SAFETY: IPC_RMID takes no buffer (NULL is allowed for it).
    let result = unsafe {
        match kind {
            Kind::Shm => libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            Kind::Msg => libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            Kind::Sem => libc::semctl(id, 0, libc::IPC_RMID),
        }
    };
    result == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL)
}

/// What the helper removes as the user (ids prepared before the fork).
#[derive(Debug, Default)]
struct Plan {
    shm: Vec<i32>,
    msg: Vec<i32>,
    sem: Vec<i32>,
}

const KEYCTL_CLEAR: libc::c_long = 7;
const KEYCTL_READ: libc::c_long = 11;
const KEY_SPEC_USER_KEYRING: libc::c_long = -4;
const KEY_SPEC_USER_SESSION_KEYRING: libc::c_long = -5;

/// Forks a helper that becomes `user` for good and removes the planned objects and either counts
/// (`count`) or clears the keys of its user keyrings. Returns the helper's count (its exit code),
/// or None if it could not run or did not end within `HELPER_BOUND` (it is then killed).
fn as_user(user: &Identity, plan: &Plan, count: bool) -> Option<usize> {
    if !crate::privilege::is_root() || user.uid == 0 {
        return None;
    }
    // SAFETY: the child makes only system calls on values prepared before the fork and ends
    // with _exit, so a lock another thread held at fork time cannot bite it.
    match unsafe { unistd::fork() }.ok()? {
        ForkResult::Child => {
            let code = helper(user, plan, count);
            // SAFETY: ends the helper at once.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            let pidfd = rustix::process::Pid::from_raw(child.as_raw())
                .and_then(|pid| pidfd_open(pid, PidfdFlags::empty()).ok());
            let ended = match &pidfd {
                Some(fd) => wait_readable(fd, Instant::now() + HELPER_BOUND),
                None => false,
            };
            if !ended {
                match &pidfd {
                    Some(fd) => {
                        let _ = pidfd_send_signal(fd, rustix::process::Signal::KILL);
                    }
                    None => {
                        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                    }
                }
            }
            // Ended or SIGKILLed (root can always): this returns at once.
            match nix::sys::wait::waitpid(child, None).ok()? {
                nix::sys::wait::WaitStatus::Exited(_, code) if ended && code < 200 => {
                    Some(usize::try_from(code).unwrap_or(0))
                }
                _ => None,
            }
        }
    }
}

/// The helper's side: allocation-free.
fn helper(user: &Identity, plan: &Plan, count: bool) -> i32 {
    if crate::privilege::drop_to(user).is_err() {
        return 250;
    }
    for (kind, ids) in [
        (Kind::Shm, &plan.shm),
        (Kind::Msg, &plan.msg),
        (Kind::Sem, &plan.sem),
    ] {
        for id in ids {
            remove_sysv(kind, *id);
        }
    }
    let mut keys = 0usize;
    for keyring in [KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING] {
        // SAFETY: keyctl on a special keyring id; READ with a NULL buffer only returns the size.
        unsafe {
            if count {
                let size = libc::syscall(libc::SYS_keyctl, KEYCTL_READ, keyring, 0usize, 0usize);
                if size > 0 {
                    keys += usize::try_from(size).unwrap_or(0) / 4;
                }
            } else {
                libc::syscall(libc::SYS_keyctl, KEYCTL_CLEAR, keyring);
            }
        }
    }
    i32::try_from(keys.min(199)).unwrap_or(199)
}

fn wait_readable(fd: &std::os::fd::OwnedFd, until: Instant) -> bool {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let timeout = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(rustix::io::Errno::INTR) if !left.is_zero() => {}
            Err(_) => return false,
        }
    }
}
