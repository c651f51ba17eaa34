//! Waiting on several runs at once: one `poll` over every pipe and process descriptor of a set
//! of live runs, so a scenario with a server and its clients wakes on the first thing any of
//! them does, and no run's pipe fills up while another is waited on.
//!
//! Must never wait past `until` or past any run's own deadline (a run past its deadline is ended
//! here, as `Running::watch` would), and never block on a pipe.

use std::os::fd::AsFd;
use std::time::Instant;

use rustix::event::{PollFd, Timespec, poll};

use super::Running;

/// Blocks until one of `runs` has activity (output, room in a stdin pipe, an exit), `until`
/// passes, or the nearest run deadline passes; then moves, for every run, what can be moved
/// without blocking and notes any that ended.
pub fn pump_many(runs: &mut [&mut Running], until: Instant) {
    let now = Instant::now();
    let nearest = runs
        .iter()
        .filter(|r| r.end.is_none())
        .map(|r| r.deadline)
        .min()
        .map_or(until, |d| d.min(until));
    let timeout = nearest.saturating_duration_since(now);
    {
        let mut fds: Vec<PollFd<'_>> = Vec::new();
        for run in runs.iter() {
            if run.end.is_some() {
                continue;
            }
            for (fd, flags) in run.capture.poll_fds() {
                fds.push(PollFd::from_borrowed_fd(fd, flags));
            }
            if let Some(pidfd) = &run.pidfd {
                fds.push(PollFd::from_borrowed_fd(
                    pidfd.as_fd(),
                    rustix::event::PollFlags::IN,
                ));
            }
        }
        if !fds.is_empty() {
            let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            });
            // An error (EINTR, ENOMEM) only means the look below comes sooner.
            let _ = poll(&mut fds, Some(&timeout));
        } else if !timeout.is_zero() {
            // Nothing to wait on (every run ended or holds no pipe): nothing can happen before
            // `until` that a poll could see, so return and let the caller decide.
        }
    }
    for run in runs.iter_mut() {
        if run.end.is_none() {
            // One non-blocking look (see `wait_until`): moves bytes, notices an exit, and ends a
            // run whose deadline has passed.
            let _ = run.wait_until(Instant::now());
        }
    }
}
