//! Cleaning up after a run: finding every process it left (its session, its orphans, every
//! process of its dedicated user), killing them, and reaping the ones that became the grader's
//! children. Also the registry of live runs, so that runs going on in other threads are spared.
//!
//! Must never signal a pid it has not pinned first (a pidfd, then a fresh look that it is still
//! the process meant: pids are reused), never reap a run's main process (its `Child` does), never
//! touch the grader's own session, and never kill all processes of uid 0 or of the grader's user.

use std::collections::HashSet;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{self, ForkResult, Pid, Uid};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::process::{PidfdFlags, pidfd_open, pidfd_send_signal};

use super::procfs::{self, ProcStat};

/// How long one clean-up may take before it gives up and says what is left.
pub(super) const SWEEP_BOUND: Duration = Duration::from_secs(3);

/// A run whose main process has not been reaped yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LiveRun {
    /// The main process; also its session and process-group id (it called setsid).
    pub pid: i32,
    /// The dedicated user it runs as, if any.
    pub uid: Option<u32>,
}

static LIVE: Mutex<Vec<LiveRun>> = Mutex::new(Vec::new());

/// The registry of live runs. Spawning holds it from fork until the new run is listed, and a sweep
/// holds it while it looks and signals, so a sweep never mistakes a run being started in another
/// thread (briefly a child of the grader outside its session) for a leftover.
pub(super) fn live_runs() -> MutexGuard<'static, Vec<LiveRun>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn forget(pid: i32) {
    live_runs().retain(|run| run.pid != pid);
}

/// What one sweep is after.
#[derive(Debug, Clone, Copy)]
pub(super) struct Targets {
    /// The run being cleaned up (its main pid = session id). Its session is killed; the main
    /// process itself is left to the caller, which reaps it through its `Child`.
    pub run: Option<i32>,
    /// Kill every process whose real, effective or saved uid is this.
    pub uid: Option<u32>,
    /// Kill orphans of earlier runs: children of the grader (it is a subreaper) outside its own
    /// session that are not the main process of a live run nor in a live run's session.
    pub orphans: bool,
    /// Spare the sessions of other live runs even when they match `uid` (several runs as one
    /// user at a time); the fast kill-everything-of-the-user helper is then not used.
    pub spare_other_runs: bool,
    /// Look only at the descendants of this process: the init of the run's pod, when the pod has
    /// a PID namespace of its own (nothing of the run can be outside it). Every pid otherwise.
    pub within: Option<i32>,
}

/// Kills everything `targets` names, repeating until a look finds nothing (a process may fork
/// between a look and the kill), and reaps what became the grader's zombies. Returns how many
/// live processes it killed.
pub(super) fn sweep(targets: Targets) -> io::Result<usize> {
    let me = unistd::getpid().as_raw();
    let my_session = unistd::getsid(None).map(Pid::as_raw).unwrap_or(me);
    let until = Instant::now() + SWEEP_BOUND;
    let mut killed = HashSet::new();
    loop {
        let (pinned, unpinned, zombies) = {
            let live = live_runs();
            let others: Vec<LiveRun> = live
                .iter()
                .filter(|run| Some(run.pid) != targets.run)
                .copied()
                .collect();
            let look = Look {
                targets,
                others: &others,
                me,
                my_session,
            };
            let mut pinned = Vec::new();
            let mut unpinned = false;
            let mut zombies = Vec::new();
            let candidates = targets
                .within
                .and_then(procfs::descendants)
                .unwrap_or_else(procfs::all_pids);
            for pid in candidates {
                let Some((stat, reapable)) = look.matches(pid) else {
                    continue;
                };
                if stat.is_dead() {
                    if reapable {
                        zombies.push(pid);
                    }
                    continue;
                }
                match kill_pinned(pid, |pid| look.matches(pid).is_some()) {
                    Pinned::Killed(fd) => {
                        killed.insert(pid);
                        pinned.push(fd);
                    }
                    Pinned::Unpinned => {
                        killed.insert(pid);
                        unpinned = true;
                    }
                    Pinned::Gone => {}
                }
            }
            // Not when another live run is that user too and must be spared.
            let must_spare = |uid: u32| {
                targets.spare_other_runs && others.iter().any(|run| run.uid == Some(uid))
            };
            let helper_for = targets.uid.filter(|uid| !must_spare(*uid));
            if let (Some(uid), false) = (helper_for, pinned.is_empty()) {
                // A fork bomb may outpace look-then-kill; one kill(-1) as that user hits all of
                // them at once. Under the registry lock, so no run of that user can be starting.
                let _ = kill_everything_as(uid);
            }
            (pinned, unpinned, zombies)
        };
        for pid in &zombies {
            // Only our own zombies are listed; WNOHANG because another thread may reap it first.
            let _ = waitpid(Pid::from_raw(*pid), Some(WaitPidFlag::WNOHANG));
        }
        if pinned.is_empty() && !unpinned && zombies.is_empty() {
            return Ok(killed.len());
        }
        if Instant::now() >= until {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{} process(es) still alive {} ms after SIGKILL",
                    pinned.len(),
                    SWEEP_BOUND.as_millis()
                ),
            ));
        }
        wait_gone(pinned, unpinned, until);
    }
}

/// One look at the process table, with everything that decides whether a pid is a target.
struct Look<'a> {
    targets: Targets,
    others: &'a [LiveRun],
    me: i32,
    my_session: i32,
}

impl Look<'_> {
    /// The process's stat if it is a target right now, and whether the grader may reap it.
    fn matches(&self, pid: i32) -> Option<(ProcStat, bool)> {
        if pid == self.me || Some(pid) == self.targets.run {
            return None;
        }
        let stat = procfs::stat(pid)?;
        // The grader's own session holds the grader's helpers and tools, never student code:
        // every run starts by leaving it, and no process can join another session. Its processes
        // are never reaped here (they may be some `Child` of the grader's), and are killed only
        // for `kill_all_of_user`, which means every process of the user.
        let in_grader_session = stat.session == self.my_session;
        if in_grader_session && (self.targets.spare_other_runs || self.targets.uid.is_none()) {
            return None;
        }
        // Another run's main process is reaped by that run's `Child`, never here.
        let other_main = self.others.iter().any(|run| run.pid == pid);
        let in_other_run = self.others.iter().any(|run| run.pid == stat.session);
        let in_this_run = self.targets.run == Some(stat.session);
        let orphan = self.targets.orphans
            && stat.ppid == self.me
            && !in_grader_session
            && !in_other_run
            && !other_main;
        let spared = self.targets.spare_other_runs && in_other_run;
        let of_user = !spared
            && self.targets.uid.is_some_and(|uid| {
                procfs::status(pid)
                    .and_then(|status| procfs::uids(&status))
                    .is_some_and(|ids| ids[..3].contains(&uid))
            });
        let reapable = stat.ppid == self.me && !other_main && !in_grader_session;
        (in_this_run || orphan || of_user).then_some((stat, reapable))
    }
}

enum Pinned {
    /// SIGKILL sent through a pidfd; the fd becomes readable when the process is gone.
    Killed(OwnedFd),
    /// No pidfd could be had (see `kill_pinned`): killed by pid after a fresh look.
    Unpinned,
    /// It ended, or is no longer a target.
    Gone,
}

/// Pins `pid` with a pidfd, checks it is still a target (so the fd is not a newcomer that got a
/// reused pid), and sends SIGKILL through the fd.
fn kill_pinned(pid: i32, still_target: impl Fn(i32) -> bool) -> Pinned {
    let Some(raw) = rustix::process::Pid::from_raw(pid) else {
        return Pinned::Gone;
    };
    match pidfd_open(raw, PidfdFlags::empty()) {
        Ok(fd) => {
            if still_target(pid) && pidfd_send_signal(&fd, rustix::process::Signal::KILL).is_ok() {
                Pinned::Killed(fd)
            } else {
                Pinned::Gone
            }
        }
        Err(Errno::SRCH) => Pinned::Gone,
        // No pidfds here: ENOSYS before Linux 5.3, EPERM under a seccomp profile that lacks
        // pidfd_open, EMFILE when out of descriptors. Killing by pid after a fresh look is the
        // best left, and far better than leaving the process alive.
        Err(_) => {
            if still_target(pid) && signal::kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                Pinned::Unpinned
            } else {
                Pinned::Gone
            }
        }
    }
}

/// How long the kill-as-the-user helper may take before it is killed.
const HELPER_BOUND: Duration = Duration::from_millis(500);

/// Waits until every pinned process is gone or `until` passes.
fn wait_gone(mut pinned: Vec<OwnedFd>, unpinned: bool, until: Instant) {
    // Without pidfds there is nothing to wait on: look again soon.
    let until = if unpinned {
        until.min(Instant::now() + Duration::from_millis(2))
    } else {
        until
    };
    wait_gone_fds(&mut pinned, until);
}

/// Drops from `pinned` every process that is gone, waiting until all are or `until` passes.
fn wait_gone_fds(pinned: &mut Vec<OwnedFd>, until: Instant) {
    while !pinned.is_empty() {
        let now = Instant::now();
        if now >= until {
            return;
        }
        let timeout = Timespec::try_from(until - now).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = pinned
                .iter()
                .map(|fd| PollFd::new(fd, PollFlags::IN))
                .collect();
            match poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(_) => return,
            }
            fds.iter().map(|fd| !fd.revents().is_empty()).collect()
        };
        let mut ready = ready.into_iter();
        pinned.retain(|_| !ready.next().unwrap_or(false));
    }
}

/// Forks a helper that becomes `uid` for good and sends SIGKILL to every process it may signal:
/// every process of that user in this pid namespace, in one system call.
fn kill_everything_as(uid: u32) -> io::Result<()> {
    if !unistd::geteuid().is_root() || uid == 0 || uid == unistd::getuid().as_raw() {
        return Ok(());
    }
    // SAFETY: the child only makes async-signal-safe system calls (setuid, kill, _exit) and never
    // returns into Rust code, so a lock held by another thread at fork time cannot bite it.
    match unsafe { unistd::fork() }? {
        ForkResult::Child => {
            let code = i32::from(
                unistd::setuid(Uid::from_raw(uid)).is_err()
                    || signal::kill(Pid::from_raw(-1), Signal::SIGKILL).is_err(),
            );
            // SAFETY: _exit ends the helper at once, without running the parent's exit handlers.
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            // The helper runs as the user, so a process of the user may stop it (SIGSTOP to
            // every process it may signal): never wait for it without a bound.
            let pidfd = rustix::process::Pid::from_raw(child.as_raw())
                .and_then(|pid| pidfd_open(pid, PidfdFlags::empty()).ok());
            let ended = match pidfd {
                Some(fd) => {
                    let mut left = vec![fd];
                    wait_gone_fds(&mut left, Instant::now() + HELPER_BOUND);
                    left.is_empty()
                }
                None => false,
            };
            if !ended {
                let _ = signal::kill(child, Signal::SIGKILL);
            }
            // Ended, or SIGKILLed by root: returns at once.
            waitpid(child, None)?;
            Ok(())
        }
    }
}

/// Every process of `uid`, killed and (when the grader's) reaped. See `super::kill_all_of_user`.
pub(super) fn kill_all_of_user(uid: u32) -> io::Result<usize> {
    if uid == 0 || uid == unistd::getuid().as_raw() || uid == unistd::geteuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "refusing: that is root or the grader's own user",
        ));
    }
    sweep(Targets {
        run: None,
        uid: Some(uid),
        orphans: false,
        spare_other_runs: false,
        within: None,
    })
}
