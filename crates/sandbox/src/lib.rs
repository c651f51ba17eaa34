//! Runs untrusted student programs: as an unprivileged user when the grader is root, in their own
//! session, with rlimits, no_new_privs, an emptied environment, optionally no network, a deadline,
//! and capped output capture. Every process a run starts is gone when the run's handle is dropped.
//!
//! This module must never run student code as root, never wait without a deadline, and never
//! buffer more than `Spec::output_cap` bytes of a stream.

// API CONTRACT (the lead codes against it; the implementer may add private items and submodules,
// but keep these public names and meanings).
//
// How it is built: `spawn` starts the child (see `spawn.rs` for what the child does to itself
// before exec); `capture` moves the pipe bytes; `lifecycle` waits on one `poll` over the pipes and
// a pidfd and ends runs; `sweep` kills and reaps whatever a run left; `readiness` reads signal
// dispositions; `procfs` parses /proc; `activity` says what a process killed at its deadline was
// doing; `leftovers` finds and removes files the lab's users left in shared writable directories.
// Nothing here sleeps blindly: every wait is a `poll` bounded by the nearest deadline.

mod activity;
mod capture;
pub mod gate;
mod group_cpu;
mod ipc_cleanup;
mod leftovers;
mod lifecycle;
mod many;
mod mounts;
pub mod pod;
pub mod pod_init;
mod pod_wire;
pub mod privilege;
mod procfs;
mod readiness;
mod spawn;
mod sweep;
#[cfg(test)]
pub(crate) mod tests;

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::Child;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use capture::Capture;

pub use activity::{Activity, Doing};
pub use group_cpu::Measure;
pub use ipc_cleanup::{UserResidue, clear_residue_of_users, residue_of_user};
pub use leftovers::{SHARED_WRITABLE, files_of_users, remove_files_of_users};
pub use many::pump_many;
pub use pod::{Isolation, Pod, PodScope, View, isolation};

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
    /// A pipe kept open: bytes come with [`Running::write_stdin`], end of file with
    /// [`Running::close_stdin`] (or when the run ends).
    Pipe,
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
    /// A descriptor the program inherits (the write end of a pipe whose read end the grader
    /// watches for a "ready" byte); its number is in the program's [`READY_FD_VAR`].
    pub ready_fd: Option<std::sync::Arc<OwnedFd>>,
}

/// The environment variable that names a program's ready descriptor (see `Spec::ready_fd`).
pub const READY_FD_VAR: &str = "IPC_LAB_READY_FD";

/// How a process ended. A real-time signal (which `Signal` cannot name) shows as
/// `Exited(128 + n)`, as a shell would report it.
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
    /// When the run was killed at a deadline: what its main process was doing just before, so a
    /// report can say "blocked opening a FIFO" instead of only "timed out".
    pub at_deadline: Option<Activity>,
    /// Processes of the run's process group or session still running when its main process had
    /// ended by itself (killed with the run): a program that leaves children behind.
    pub left_behind: usize,
}

/// Result of waiting for a program to catch signals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// All the signals are caught (their bits are set in `/proc/<pid>/status` SigCgt); `after`
    /// is measured from the spawn.
    Ready { after: Duration },
    /// The process ended before it was ready.
    Ended(Ending),
    /// The deadline passed; `caught` lists which of the wanted signals were caught by then, and
    /// `ignored` which of them the program set to be ignored (SigIgn) instead of handled.
    NotReady {
        caught: Vec<Signal>,
        ignored: Vec<Signal>,
    },
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

impl SandboxError {
    /// Whether the program could not start because its user already has as many processes as
    /// RLIMIT_NPROC allows (the kernel answers EAGAIN): another run of the same user forks
    /// without end.
    pub fn hit_process_limit(&self) -> bool {
        match self {
            SandboxError::Spawn { source, .. } => {
                source.kind() == std::io::ErrorKind::WouldBlock
                    || source.raw_os_error() == Some(nix::libc::EAGAIN)
            }
            SandboxError::Io { .. } => false,
        }
    }
}

/// A started program. Dropping it kills and reaps everything the run started.
///
/// The parent-death signal of the child is tied to the *thread* that spawned it: keep a
/// `Running` on the thread that created it (or on one that outlives it).
#[derive(Debug)]
pub struct Running {
    /// The grader's own child; None when the run was started in a pod.
    child: Option<Child>,
    /// The pod the run was started in, if any (see `pod`).
    pod: Option<pod::PodRun>,
    pid: i32,
    /// Readable once the main process has exited; None on kernels without pidfds (< 5.3).
    pidfd: Option<OwnedFd>,
    capture: Capture,
    /// The dedicated user the run is, if any: its processes are all killed at the end.
    uid: Option<u32>,
    started: Instant,
    deadline: Instant,
    /// Set once the main process ended (or was killed) and the rest of the run was cleaned up.
    end: Option<(Ending, Duration)>,
    /// What the main process was doing when a deadline killed it.
    at_deadline: Option<Activity>,
    /// See `Outcome::left_behind`.
    left_behind: usize,
}

impl Running {
    /// Starts the program described by `spec`. stdin bytes are written as the child reads them
    /// (never blocking the grader), stdout/stderr are captured as it writes them.
    pub fn spawn(spec: Spec) -> Result<Running, SandboxError> {
        // As root, student code is started by a pod (this thread's check pod, or one of its own).
        if let Some(run) = pod::spawn_for(spec.clone()) {
            return run;
        }
        let started = Instant::now();
        let spawned = spawn::start(&spec)?;
        let pid = i32::try_from(spawned.child.id()).unwrap_or(i32::MAX);
        Ok(Running {
            child: Some(spawned.child),
            pod: None,
            pid,
            pidfd: spawned.pidfd,
            capture: spawned.capture,
            uid: spec.identity.as_ref().map(|identity| identity.uid),
            started,
            deadline: started + spec.deadline,
            end: None,
            at_deadline: None,
            left_behind: 0,
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pid the process sees as its own (`getpid()`): in a pod with namespaces, its number in
    /// the pod's PID namespace; otherwise `pid()`.
    pub fn own_pid(&self) -> i32 {
        match &self.pod {
            Some(run) if run.shared.namespaced() => run.inner_pid,
            _ => self.pid,
        }
    }

    /// The pid the process sees as its parent's (`getppid()`): the pod's init (1 in a pod with
    /// namespaces), or the grader.
    pub fn parent_pid_seen(&self) -> i32 {
        match &self.pod {
            Some(run) if run.shared.namespaced() => 1,
            Some(run) => run.shared.init_pid(),
            None => i32::try_from(std::process::id()).unwrap_or(0),
        }
    }

    /// Waits (pumping output, never sleeping blindly past the deadline) until every signal in
    /// `signals` is caught, the process ends, or `within` passes. Once they are caught it also
    /// gives the main thread up to 250 ms to go to sleep in its wait (see `readiness`), so a
    /// signal sent next cannot land between the handler's installation and a `pause()`.
    pub fn wait_for_caught(&mut self, signals: &[Signal], within: Duration) -> Readiness {
        readiness::wait_for_caught(self, signals, within)
    }

    /// CPU time (user + system) the main process has used so far, from /proc/<pid>/stat.
    /// (More exactly: the sum of every live thread's schedstat, in nanoseconds, when the kernel
    /// has it.) None once the process has ended.
    pub fn cpu_time(&self) -> Option<Duration> {
        if self.end.is_some() {
            return None;
        }
        procfs::cpu_time(self.pid)
    }

    /// CPU time plus time spent runnable but waiting for a CPU, from every live thread's
    /// schedstat: what the process asked of the CPUs, whatever else the machine runs. None once
    /// the process has ended, or on kernels without schedstat.
    pub fn cpu_demand(&self) -> Option<Duration> {
        if self.end.is_some() {
            return None;
        }
        procfs::cpu_demand(self.pid)
    }

    /// CPU of the whole run now (see `group_cpu`): its main process, every process it started
    /// that still lives, and those already reaped. None once the main process has ended. Only
    /// the difference of two readings means anything.
    pub fn run_cpu(&self, measure: Measure) -> Option<Duration> {
        if self.end.is_some() {
            return None;
        }
        let members = group_cpu::members(self.pid, self.namespaced_init());
        let reaper = self.pod.as_ref().map(|run| run.shared.init_pid());
        Some(group_cpu::total(&members, reaper, measure))
    }

    /// The init of this run's pod when the pod has a PID namespace of its own.
    fn namespaced_init(&self) -> Option<i32> {
        match &self.pod {
            Some(run) if run.shared.namespaced() => Some(run.shared.init_pid()),
            _ => None,
        }
    }

    /// Pumps output for up to `window`; returns early with the ending if the process ends.
    /// The run's own deadline still holds: if it passes first, the run is killed (`TimedOut`).
    pub fn watch(&mut self, window: Duration) -> Option<Ending> {
        self.wait_until(Instant::now() + window)
    }

    /// Queues bytes for a [`Stdin::Pipe`] stdin (written as the child reads them); false when
    /// its stdin is closed or was not a pipe.
    pub fn write_stdin(&mut self, bytes: &[u8]) -> bool {
        self.capture.write(bytes)
    }

    /// Closes the child's stdin: it reads end of file.
    pub fn close_stdin(&mut self) {
        self.capture.close_stdin();
    }

    /// The signals the main process catches now (bit n-1 for signal n, /proc SigCgt); None once
    /// it has ended.
    pub fn caught_mask(&self) -> Option<u64> {
        if self.end.is_some() {
            return None;
        }
        procfs::signal_mask(&procfs::status(self.pid)?, "SigCgt")
    }

    /// A field of /proc/<pid>/status of the main process (e.g. `Threads`, `State`, `NSpid`);
    /// None once it has ended.
    pub fn status_field(&self, key: &str) -> Option<String> {
        if self.end.is_some() {
            return None;
        }
        let status = procfs::status(self.pid)?;
        status.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k == key).then(|| v.trim().to_string())
        })
    }

    /// Whether the main process has ended (its outcome is then kept until `finish`).
    pub fn has_ended(&self) -> bool {
        self.end.is_some()
    }

    /// Output captured so far (the run keeps capturing).
    pub fn output_so_far(&self) -> &Output {
        self.capture.output()
    }

    /// Sends `signal` to the main process only.
    pub fn signal(&self, signal: Signal) -> Result<(), SandboxError> {
        let what = || format!("send {} to pid {}", signal.as_str(), self.pid);
        if self.end.is_some() {
            return Err(SandboxError::Io {
                what: what(),
                source: std::io::Error::other("the process has already ended"),
            });
        }
        // The main process is not reaped before `end` is set, so its pid cannot have been reused.
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), signal).map_err(|errno| {
            SandboxError::Io {
                what: what(),
                source: errno.into(),
            }
        })
    }

    /// Waits until the main process ends or the run's deadline passes, then kills whatever of the
    /// run is left (process group, and all processes of the run's user when it is a dedicated
    /// user), reaps, and returns the outcome. Output written by leftover processes after the main
    /// process ended is not waited for.
    pub fn finish(self) -> Outcome {
        let deadline = self.deadline;
        self.finish_by(deadline)
    }

    /// Like `finish`, but with a shorter deadline from now (e.g. "must exit within 2 s of the signal").
    pub fn finish_within(self, within: Duration) -> Outcome {
        let until = self.deadline.min(Instant::now() + within);
        self.finish_by(until)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.end.is_none() {
            self.conclude(true, false);
        }
    }
}

/// A bare program name looked up on `path` (the students' PATH) now, so a missing interpreter is
/// a clear message rather than an exec error inside the sandbox; a name with a `/` is kept.
pub fn resolve_program(name: &str, path: &OsString) -> OsString {
    if name.contains('/') {
        return name.into();
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .map_or_else(|| name.into(), |p| p.into_os_string())
}

/// Runs to completion: spawn then finish.
pub fn run(spec: Spec) -> Result<Outcome, SandboxError> {
    Ok(Running::spawn(spec)?.finish())
}

/// Kills every process owned by `uid` (never uid 0, never the grader's own uid) and waits until
/// none is left. Used after each run as a dedicated user, and at the end of grading. Returns how
/// many live processes it killed (even ones the grader started as `uid` outside the sandbox).
pub fn kill_all_of_user(uid: u32) -> Result<usize, SandboxError> {
    sweep::kill_all_of_user(uid).map_err(|source| SandboxError::Io {
        what: format!("kill every process of uid {uid}"),
        source,
    })
}

/// Makes the grader a child subreaper (orphans of student code re-parent to it, so it can reap and
/// account for them). Call once at startup.
/// Without it, a process that leaves its run's session (setsid) and outlives its parent goes to
/// init, and a run without a dedicated user then has no way to find it.
pub fn become_subreaper() -> Result<(), SandboxError> {
    nix::sys::prctl::set_child_subreaper(true).map_err(|errno| SandboxError::Io {
        what: "become a child subreaper (prctl PR_SET_CHILD_SUBREAPER)".to_owned(),
        source: errno.into(),
    })
}

/// Whether a fresh network namespace can be made here (root with CAP_SYS_ADMIN); checked once.
pub fn network_isolation_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(try_new_network_namespace)
}

/// Forks a child that only tries `unshare(CLONE_NEWNET)` and reports through its exit code.
fn try_new_network_namespace() -> bool {
    probe_unshare(nix::sched::CloneFlags::CLONE_NEWNET)
}

/// Forks a child that only tries `unshare(flags)` and reports through its exit code.
fn probe_unshare(flags: nix::sched::CloneFlags) -> bool {
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};
    // SAFETY: the child makes two system calls (unshare, _exit) and never returns into Rust code,
    // so a lock another thread held at fork time cannot bite it.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let failed = nix::sched::unshare(flags).is_err();
            // SAFETY: ends the child at once, without the parent's exit handlers.
            unsafe { nix::libc::_exit(i32::from(failed)) }
        }
        Ok(ForkResult::Parent { child }) => {
            matches!(waitpid(child, None), Ok(WaitStatus::Exited(_, 0)))
        }
        Err(_) => false,
    }
}
