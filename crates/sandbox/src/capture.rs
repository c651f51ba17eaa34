//! Moving bytes between the grader and a running child: stdin fed as the child reads it,
//! stdout and stderr collected as it writes them, all through non-blocking pipes and one `poll`.
//!
//! Must never block on a pipe (every descriptor is non-blocking), never keep more than the cap
//! per stream (the rest is read and thrown away so the child is never stalled by a full pipe),
//! and never wait past the timeout it is given.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;

use super::Output;

/// Reads per stream per wake-up, so a child that writes without pause cannot keep the loop from
/// looking at its deadline.
const READS_PER_WAKE: usize = 16;
const CHUNK: usize = 64 * 1024;

/// The grader's ends of a child's three pipes.
#[derive(Debug)]
pub(super) struct Capture {
    stdin: Option<Feed>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    output: Output,
    cap: usize,
    scratch: Vec<u8>,
}

/// Bytes still to be written to the child's stdin.
#[derive(Debug)]
struct Feed {
    fd: OwnedFd,
    bytes: Vec<u8>,
    written: usize,
    /// Keep the pipe open once everything is written (more may come, see `Capture::write`).
    keep_open: bool,
}

/// What one `pump` saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Woke {
    /// The process descriptor became readable: the process has exited.
    pub exited: bool,
}

impl Capture {
    /// Takes the grader's pipe ends (any may be absent) and makes them non-blocking.
    pub fn new(
        stdin: Option<(OwnedFd, Vec<u8>, bool)>,
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
        cap: usize,
    ) -> io::Result<Capture> {
        for fd in [
            stdout.as_ref(),
            stderr.as_ref(),
            stdin.as_ref().map(|(fd, _, _)| fd),
        ]
        .into_iter()
        .flatten()
        {
            rustix::io::ioctl_fionbio(fd, true)?;
        }
        let stdin = stdin.and_then(|(fd, bytes, keep_open)| {
            // Nothing to write: close at once so the child sees end of file.
            (!bytes.is_empty() || keep_open).then_some(Feed {
                fd,
                bytes,
                written: 0,
                keep_open,
            })
        });
        Ok(Capture {
            stdin,
            stdout,
            stderr,
            output: Output::default(),
            cap,
            scratch: vec![0; CHUNK],
        })
    }

    pub fn output(&self) -> &Output {
        &self.output
    }

    pub fn take_output(&mut self) -> Output {
        std::mem::take(&mut self.output)
    }

    /// Whether stdout or stderr can still deliver bytes.
    pub fn streams_open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some()
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Queues more bytes for a stdin that is kept open; false when stdin is already closed.
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        match &mut self.stdin {
            Some(feed) => {
                feed.bytes.extend_from_slice(bytes);
                self.feed_stdin();
                true
            }
            None => false,
        }
    }

    /// The descriptors a wait on this capture polls, with the events it waits for.
    pub fn poll_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        let mut fds = Vec::with_capacity(3);
        if let Some(feed) = &self.stdin
            && feed.written < feed.bytes.len()
        {
            fds.push((feed.fd.as_fd(), PollFlags::OUT));
        }
        for fd in [&self.stdout, &self.stderr].into_iter().flatten() {
            fds.push((fd.as_fd(), PollFlags::IN));
        }
        fds
    }

    /// Waits up to `timeout` for any pipe to be ready or `process` to become readable, then moves
    /// what can be moved without blocking. Returns early on any activity.
    pub fn pump(&mut self, process: Option<BorrowedFd<'_>>, timeout: Duration) -> io::Result<Woke> {
        let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 0,
        });
        let (feed, out, err, exited) = {
            let mut fds = Vec::with_capacity(4);
            let mut slots = [None; 4];
            // A kept-open stdin with nothing queued is always writable: not waited on.
            if let Some(feed) = &self.stdin
                && feed.written < feed.bytes.len()
            {
                slots[0] = Some(fds.len());
                fds.push(PollFd::new(&feed.fd, PollFlags::OUT));
            }
            if let Some(fd) = &self.stdout {
                slots[1] = Some(fds.len());
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
            if let Some(fd) = &self.stderr {
                slots[2] = Some(fds.len());
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
            if let Some(fd) = &process {
                slots[3] = Some(fds.len());
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
            match poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(error) => return Err(error.into()),
            }
            let ready = |slot: Option<usize>| slot.is_some_and(|i| !fds[i].revents().is_empty());
            (
                ready(slots[0]),
                ready(slots[1]),
                ready(slots[2]),
                ready(slots[3]),
            )
        };
        if feed {
            self.feed_stdin();
        }
        if out {
            read_available(
                &mut self.stdout,
                &mut self.output.stdout,
                &mut self.output.stdout_truncated,
                self.cap,
                &mut self.scratch,
            );
        }
        if err {
            read_available(
                &mut self.stderr,
                &mut self.output.stderr,
                &mut self.output.stderr_truncated,
                self.cap,
                &mut self.scratch,
            );
        }
        Ok(Woke { exited })
    }

    /// After the run is over: reads what is left in the pipes until both report end of file or
    /// `until` passes (a pipe stays open only if a process that escaped the kill still holds it).
    pub fn drain(&mut self, until: Instant) {
        self.close_stdin();
        while self.streams_open() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            if self.pump(None, until - now).is_err() {
                break;
            }
        }
    }

    fn feed_stdin(&mut self) {
        let Some(feed) = &mut self.stdin else {
            return;
        };
        loop {
            match rustix::io::write(&feed.fd, &feed.bytes[feed.written..]) {
                Ok(n) => {
                    feed.written += n;
                    if feed.written == feed.bytes.len() {
                        if feed.keep_open {
                            feed.bytes.clear();
                            feed.written = 0;
                            return;
                        }
                        // All given: closing is the child's end of file.
                        self.stdin = None;
                        return;
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return,
                // EPIPE: the child closed its stdin (or exited) without reading everything. The
                // grader ignores SIGPIPE (Rust's runtime does), so this is an error, not a death.
                Err(_) => {
                    self.stdin = None;
                    return;
                }
            }
        }
    }
}

/// Reads whatever `fd` has now, keeping up to `cap` bytes in `kept`. Closes `fd` at end of file.
fn read_available(
    fd: &mut Option<OwnedFd>,
    kept: &mut Vec<u8>,
    truncated: &mut bool,
    cap: usize,
    scratch: &mut [u8],
) {
    let mut reads = 0;
    while reads < READS_PER_WAKE {
        let Some(pipe) = fd.as_ref() else {
            return;
        };
        match rustix::io::read(pipe, &mut *scratch) {
            Ok(0) => {
                *fd = None;
                return;
            }
            Ok(n) => {
                reads += 1;
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&scratch[..n.min(room)]);
                if n > room {
                    *truncated = true;
                }
            }
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return,
            Err(_) => {
                *fd = None;
                return;
            }
        }
    }
}
