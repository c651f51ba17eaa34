//! The life of a run after its spawn: waiting (one `poll` over its pipes and its pidfd, bounded by
//! the nearest deadline), noticing that the main process ended, and ending the run: kill what is
//! left, reap, drain the pipes.
//!
//! Must never wait past the run's deadline, never reap the main process before its process group
//! was killed (until it is reaped its pid, and so the group id, cannot be reused), and never
//! return from ending a run while one of its processes may still run.

use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;

use super::sweep::{self, Targets};
use super::{Ending, Outcome, Running};

/// How long to look for the main process's exit between pipe events on kernels without pidfds.
const NO_PIDFD_TICK: Duration = Duration::from_millis(5);

/// How long to keep reading pipes after everything of the run was killed: they reach end of file
/// at once unless a process that escaped the kill still holds them.
const DRAIN_BOUND: Duration = Duration::from_millis(100);

/// How long a SIGKILLed main process may take to die (it may be in an uninterruptible wait).
const MAIN_DEATH_BOUND: Duration = Duration::from_secs(2);

impl Running {
    /// Pumps output until the main process ends (then ends the run), `until` passes (None), or
    /// the run's deadline passes (then kills the run: `TimedOut`).
    pub(super) fn wait_until(&mut self, until: Instant) -> Option<Ending> {
        loop {
            if let Some((ending, _)) = self.end {
                return Some(ending);
            }
            let now = Instant::now();
            if now >= self.deadline {
                self.conclude(true, true);
                continue;
            }
            // At least one look even when `until` has passed, so `watch(ZERO)` sees an exit.
            let mut timeout = until.min(self.deadline).saturating_duration_since(now);
            if self.pidfd.is_none() {
                timeout = timeout.min(NO_PIDFD_TICK);
            }
            let pidfd = self.pidfd.as_ref().map(AsFd::as_fd);
            let exited = match self.capture.pump(pidfd, timeout) {
                Ok(woke) => woke.exited || (self.pidfd.is_none() && self.exited_unreaped()),
                Err(_) => {
                    // poll itself failed (out of memory): look directly, and do not spin.
                    std::thread::sleep(NO_PIDFD_TICK.min(timeout));
                    self.exited_unreaped()
                }
            };
            if exited {
                self.conclude(false, true);
            } else if Instant::now() >= until {
                return None;
            }
        }
    }

    /// Waits (bounded) until the killed main process has exited, without reaping it.
    fn await_main_exit(&self, until: Instant) {
        match &self.pidfd {
            Some(fd) => {
                let mut fds = [PollFd::new(fd, PollFlags::IN)];
                loop {
                    let left = until.saturating_duration_since(Instant::now());
                    let timeout = Timespec::try_from(left).unwrap_or(Timespec {
                        tv_sec: 1,
                        tv_nsec: 0,
                    });
                    match poll(&mut fds, Some(&timeout)) {
                        Err(Errno::INTR) if !left.is_zero() => continue,
                        _ => return,
                    }
                }
            }
            None => {
                // SIGKILL was sent; this returns as soon as it has taken effect.
                let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
                let _ = waitid(Id::Pid(Pid::from_raw(self.pid)), flags);
            }
        }
    }

    /// Whether the main process has exited, without reaping it.
    fn exited_unreaped(&self) -> bool {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
        matches!(
            waitid(Id::Pid(Pid::from_raw(self.pid)), flags),
            Ok(status) if status.pid().is_some()
        )
    }

    /// Ends the run: kills the main process (if `timed_out`), its process group, its session, its
    /// orphans and, for a dedicated user, every process of that user (sparing other live runs);
    /// reaps; then (if `drain`) reads what is left in the pipes.
    pub(super) fn conclude(&mut self, timed_out: bool, drain: bool) {
        let at = Instant::now();
        let pid = Pid::from_raw(self.pid);
        if timed_out {
            // Looked at before the kill: afterwards there is nothing left to look at.
            self.at_deadline = super::Activity::of(self.pid);
            let _ = signal::kill(pid, Signal::SIGKILL);
            // Its children are handed to the grader (a subreaper) only once it is dead; a sweep
            // before that would miss one that left the session and still had it as parent.
            self.await_main_exit(at + MAIN_DEATH_BOUND);
        }
        if !timed_out {
            // The main process ended by itself: whatever of its group or session still runs
            // was left behind by it (the kill below ends it; the report says so).
            self.left_behind = match &self.pod {
                // In a pod of its own, everything else in its PID namespace is its doing.
                Some(run) if run.shared.namespaced() => in_pod(run.shared.init(), self.pid),
                _ => left_behind(self.pid),
            };
        }
        // Safe even if the main process has exited: it is a zombie until reaped below, so the
        // group id is still this run's.
        let _ = signal::killpg(pid, Signal::SIGKILL);
        // In a pod, what left the run's session dies with the pod (at the end of its check), and
        // no sweep as the run's user is needed: the user's other processes are other runs.
        let swept = sweep::sweep(Targets {
            run: Some(self.pid),
            uid: self.uid.filter(|_| self.pod.is_none()),
            orphans: self.pod.is_none(),
            spare_other_runs: true,
            within: self
                .pod
                .as_ref()
                .filter(|run| run.shared.namespaced())
                .map(|run| run.shared.init()),
        });
        let status = match (&mut self.child, &self.pod) {
            (Some(child), _) => child.wait(),
            (None, Some(run)) => run
                .shared
                .status(run.inner_pid, Instant::now() + MAIN_DEATH_BOUND),
            (None, None) => Err(std::io::Error::other("no process")),
        };
        if let Some(run) = &self.pod {
            run.end();
        }
        sweep::forget(self.pid);
        if let Err(error) = swept {
            // A library should not print, but a process that outlives its run must not go
            // unnoticed, and `finish` has no error to return it in.
            eprintln!(
                "grader: warning: cleaning up after pid {}: {error}",
                self.pid
            );
        }
        let ending = match (timed_out, status) {
            (true, _) => Ending::TimedOut,
            (false, Ok(status)) => ending_of(status),
            // Only if something else reaped our child (a waitpid(-1) elsewhere in the grader).
            (false, Err(_)) => Ending::Exited(-1),
        };
        self.end = Some((ending, at.saturating_duration_since(self.started)));
        if drain {
            self.capture.drain(Instant::now() + DRAIN_BOUND);
        } else {
            self.capture.close_stdin();
        }
    }

    /// `finish` and `finish_within`: wait until `until`, kill the run if it is still going.
    pub(super) fn finish_by(mut self, until: Instant) -> Outcome {
        if self.wait_until(until).is_none() {
            self.conclude(true, true);
        }
        let (ending, elapsed) = self
            .end
            .unwrap_or((Ending::TimedOut, self.started.elapsed()));
        Outcome {
            ending,
            output: self.capture.take_output(),
            elapsed,
            at_deadline: self.at_deadline.take(),
            left_behind: self.left_behind,
        }
    }
}

/// Live processes of the PID namespace of `init` other than `init` and `main`.
fn in_pod(init: i32, main: i32) -> usize {
    // Every process of the pod's PID namespace descends from its init.
    if let Some(members) = super::procfs::descendants(init) {
        return members
            .into_iter()
            .filter(|&p| p != main)
            .filter(|&p| super::procfs::stat(p).is_some_and(|s| !s.is_dead()))
            .count();
    }
    let ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(pod) = ns(init) else {
        return left_behind(main);
    };
    super::procfs::all_pids()
        .into_iter()
        .filter(|&p| p != main && p != init)
        .filter(|&p| ns(p).as_ref() == Some(&pod))
        .filter(|&p| super::procfs::stat(p).is_some_and(|s| !s.is_dead()))
        .count()
}

/// Live processes other than `main` in the process group or session `main` leads.
fn left_behind(main: i32) -> usize {
    super::procfs::all_pids()
        .into_iter()
        .filter(|&p| p != main)
        .filter_map(super::procfs::stat)
        .filter(|s| !s.is_dead() && (s.pgrp == main || s.session == main))
        .count()
}

fn ending_of(status: ExitStatus) -> Ending {
    if let Some(code) = status.code() {
        return Ending::Exited(code);
    }
    match status.signal() {
        Some(number) => Signal::try_from(number)
            .map(Ending::Signaled)
            .unwrap_or(Ending::Exited(128 + number)),
        None => Ending::Exited(-1),
    }
}
