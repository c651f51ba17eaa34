//! Runs untrusted student programs: as an unprivileged user when the grader is root, in their own
//! session, with rlimits, no_new_privs, an emptied environment, optionally no network, a deadline,
//! and capped output capture. Every process a run starts is gone when the run's handle is dropped.
//!
//! This module must never run student code as root, never wait without a deadline, and never
//! buffer more than `Spec::output_cap` bytes of a stream.

// API CONTRACT (the lead codes against it; the implementer may add private items and submodules,
// but keep these public names and meanings).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub use nix::sys::signal::Signal;

/// A user to run as: the numeric ids after the drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups to keep (e.g. `users` for garfield); everything else is dropped.
    pub groups: Vec<u32>,
}

/// Resource limits applied in the child before it execs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub cpu_seconds: u64,
    /// RLIMIT_AS in bytes; None leaves it unlimited (compilers reserve large address ranges).
    pub address_space: Option<u64>,
    /// RLIMIT_FSIZE in bytes.
    pub file_size: u64,
    /// RLIMIT_NPROC; counts every process of the real uid, so only meaningful for dedicated users.
    pub processes: u64,
    pub open_files: u64,
}

/// What the child reads on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdin {
    /// /dev/null.
    Null,
    /// These bytes, then end of file.
    Bytes(Vec<u8>),
}

/// Everything needed to start one student program.
#[derive(Debug, Clone)]
pub struct Spec {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// The complete environment: nothing of the grader's own environment leaks in.
    pub env: Vec<(OsString, OsString)>,
    pub stdin: Stdin,
    /// Run as this user (requires root); None runs as the grader's own user.
    pub identity: Option<Identity>,
    pub limits: Limits,
    /// Hard wall-clock limit for the whole run, from spawn.
    pub deadline: Duration,
    /// Bytes kept per stream; the rest is read and discarded, and the stream is marked truncated.
    pub output_cap: usize,
    /// Put the child in a fresh, empty network namespace (needs root; see `Sandbox::network_isolation`).
    pub isolate_network: bool,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signaled(Signal),
    /// The deadline passed; the whole process group (and every process of the run's user) was killed.
    TimedOut,
}

/// Captured output of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
}

/// The result of a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ending: Ending,
    pub output: Output,
    pub elapsed: Duration,
}

/// Result of waiting for a program to catch signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// All the signals are caught (their bits are set in `/proc/<pid>/status` SigCgt).
    Ready { after: Duration },
    /// The process ended before it was ready.
    Ended(Ending),
    /// The deadline passed; `caught` lists which of the wanted signals were caught by then.
    NotReady { caught: Vec<Signal>, ignored: Vec<Signal> },
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("could not start `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// A started program. Dropping it kills and reaps everything the run started.
#[derive(Debug)]
pub struct Running {
    _private: (),
}

impl Running {
    /// Starts the program described by `spec`. stdin bytes are written as the child reads them
    /// (never blocking the grader), stdout/stderr are captured as it writes them.
    pub fn spawn(_spec: Spec) -> Result<Running, SandboxError> {
        unimplemented!("sandbox implementer")
    }

    pub fn pid(&self) -> i32 {
        unimplemented!("sandbox implementer")
    }

    /// Waits (pumping output, never sleeping blindly past the deadline) until every signal in
    /// `signals` is caught, the process ends, or `within` passes.
    pub fn wait_for_caught(&mut self, _signals: &[Signal], _within: Duration) -> Readiness {
        unimplemented!("sandbox implementer")
    }

    /// CPU time (user + system) the main process has used so far, from /proc/<pid>/stat.
    pub fn cpu_time(&self) -> Option<Duration> {
        unimplemented!("sandbox implementer")
    }

    /// Pumps output for up to `window`; returns early with the ending if the process ends.
    pub fn watch(&mut self, _window: Duration) -> Option<Ending> {
        unimplemented!("sandbox implementer")
    }

    /// Output captured so far (the run keeps capturing).
    pub fn output_so_far(&self) -> &Output {
        unimplemented!("sandbox implementer")
    }

    /// Sends `signal` to the main process only.
    pub fn signal(&self, _signal: Signal) -> Result<(), SandboxError> {
        unimplemented!("sandbox implementer")
    }

    /// Waits until the main process ends or the run's deadline passes, then kills whatever of the
    /// run is left (process group, and all processes of the run's user when it is a dedicated
    /// user), reaps, and returns the outcome. Output written by leftover processes after the main
    /// process ended is not waited for.
    pub fn finish(self) -> Outcome {
        unimplemented!("sandbox implementer")
    }

    /// Like `finish`, but with a shorter deadline from now (e.g. "must exit within 2 s of the signal").
    pub fn finish_within(self, _within: Duration) -> Outcome {
        unimplemented!("sandbox implementer")
    }
}

/// Runs to completion: spawn then finish.
pub fn run(spec: Spec) -> Result<Outcome, SandboxError> {
    Ok(Running::spawn(spec)?.finish())
}

/// Kills every process owned by `uid` (never uid 0, never the grader's own uid) and waits until
/// none is left. Used after each run as a dedicated user, and at the end of grading.
pub fn kill_all_of_user(_uid: u32) -> Result<usize, SandboxError> {
    unimplemented!("sandbox implementer")
}

/// Makes the grader a child subreaper (orphans of student code re-parent to it, so it can reap and
/// account for them). Call once at startup.
pub fn become_subreaper() -> Result<(), SandboxError> {
    unimplemented!("sandbox implementer")
}

/// Whether a fresh network namespace can be made here (root with CAP_SYS_ADMIN); checked once.
pub fn network_isolation_available() -> bool {
    unimplemented!("sandbox implementer")
}
