//! Starting a student program: the `Command`, and what its child does to itself between `fork`
//! and `exec` (new session, no network, rlimits, privilege drop, no_new_privs, parent-death
//! signal, working directory).
//!
//! The code in `prepare_child` runs in the forked child of a grader that may have several
//! threads: it must never allocate, lock or print, only make system calls on values prepared
//! before the fork. It must never let the child reach `exec` when any step failed.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use nix::libc;
use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::unistd;

use super::capture::Capture;
use super::sweep::{self, LiveRun};
use super::{Identity, Limits, SandboxError, Spec, Stdin};
use crate::privilege;

/// Marks an error code as "failed in the child before exec", with the step in bits 16..24 and the
/// errno (or a `privilege` code) in the low 16 bits.
const STEP_TAG: i32 = 0x2A00_0000;
const STEP_MASK: i32 = 0x7F00_0000;

/// The steps of `prepare_child`, named in spawn errors.
#[derive(Debug, Clone, Copy)]
enum Step {
    Setsid = 1,
    Signals,
    Unshare,
    Rlimit,
    Drop,
    Harden,
    ParentGone,
    Chdir,
    KeepFd,
}

impl Step {
    const ALL: [Step; 9] = [
        Step::Setsid,
        Step::Signals,
        Step::Unshare,
        Step::Rlimit,
        Step::Drop,
        Step::Harden,
        Step::ParentGone,
        Step::Chdir,
        Step::KeepFd,
    ];

    fn describe(self) -> &'static str {
        match self {
            Step::Setsid => "setsid (a session of its own)",
            Step::Signals => "sigaction (every signal back to its default action)",
            Step::Unshare => "unshare(CLONE_NEWNET) (an empty network namespace; needs root)",
            Step::Rlimit => "setrlimit (resource limits)",
            Step::Drop => "the privilege drop",
            Step::Harden => "prctl (no_new_privs, parent-death signal)",
            Step::ParentGone => "the check that the grader is still alive",
            Step::Chdir => "chdir to the working directory (as the run's user)",
            Step::KeepFd => "fcntl (keeping the ready descriptor open across exec)",
        }
    }

    /// Tags `error` with this step; allocation-free, for use in the child.
    fn tag(self, error: io::Error) -> io::Error {
        let code = error.raw_os_error().unwrap_or(0) & 0xFFFF;
        io::Error::from_raw_os_error(STEP_TAG | ((self as i32) << 16) | code)
    }
}

/// Turns a tagged child error into words; other errors (e.g. exec's ENOENT) pass unchanged.
pub(super) fn explain(error: io::Error) -> io::Error {
    let Some(raw) = error.raw_os_error() else {
        return error;
    };
    if raw & STEP_MASK != STEP_TAG {
        return error;
    }
    let step_number = (raw >> 16) & 0xFF;
    let code = raw & 0xFFFF;
    let Some(step) = Step::ALL.iter().find(|step| **step as i32 == step_number) else {
        return error;
    };
    let cause = match privilege::describe_code(code) {
        Some(words) => words.to_owned(),
        None if matches!(step, Step::ParentGone) => "the grader ended during the spawn".to_owned(),
        None => io::Error::from_raw_os_error(code).to_string(),
    };
    let kind = io::Error::from_raw_os_error(code).kind();
    io::Error::new(
        kind,
        format!("{} failed before exec: {cause}", step.describe()),
    )
}

/// One resource limit, ready to apply.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limit {
    resource: Resource,
    soft: u64,
    hard: u64,
}

pub(super) fn limits_of(limits: &Limits) -> Vec<Limit> {
    let both = |resource, value| Limit {
        resource,
        soft: value,
        hard: value,
    };
    let mut out = vec![
        // One more second of hard limit: SIGXCPU first (catchable, reported as such), SIGKILL
        // a second later.
        Limit {
            resource: Resource::RLIMIT_CPU,
            soft: limits.cpu_seconds,
            hard: limits.cpu_seconds.saturating_add(1),
        },
        both(Resource::RLIMIT_FSIZE, limits.file_size),
        both(Resource::RLIMIT_NPROC, limits.processes),
        both(Resource::RLIMIT_NOFILE, limits.open_files),
        both(Resource::RLIMIT_CORE, 0),
    ];
    if let Some(bytes) = limits.address_space {
        out.push(both(Resource::RLIMIT_AS, bytes));
    }
    out
}

/// Everything the child needs, computed before the fork.
#[derive(Debug)]
pub(super) struct ChildPlan {
    pub isolate_network: bool,
    pub limits: Vec<Limit>,
    pub identity: Option<Identity>,
    pub parent: i32,
    pub cwd: CString,
    /// A descriptor to keep open across exec (a direct spawn's ready descriptor), by number.
    pub keep_fd: Option<i32>,
}

/// The child's side of the spawn. Allocation-free: see the module doc.
pub(super) fn prepare_child(plan: &ChildPlan) -> io::Result<()> {
    // A session of its own makes the child the leader of a new process group too, so one
    // killpg reaches everything that does not leave on purpose, and it has no controlling tty.
    unistd::setsid().map_err(|e| Step::Setsid.tag(e.into()))?;
    // exec resets caught signals but keeps ignored ones: a grader started with SIGINT ignored
    // (nohup, some CI shells) must not hand that to the student's program.
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for signal in Signal::iterator() {
        if matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing the default action runs no code of ours in a signal context.
        unsafe { sigaction(signal, &default) }.map_err(|e| Step::Signals.tag(e.into()))?;
    }
    if plan.isolate_network {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| Step::Unshare.tag(e.into()))?;
    }
    for limit in &plan.limits {
        // Never above the current hard limit: without root it cannot be raised, and asking to
        // would fail the spawn for no gain.
        let (_, current_hard) =
            getrlimit(limit.resource).map_err(|e| Step::Rlimit.tag(e.into()))?;
        let hard = limit.hard.min(current_hard);
        let soft = limit.soft.min(hard);
        setrlimit(limit.resource, soft, hard).map_err(|e| Step::Rlimit.tag(e.into()))?;
    }
    match &plan.identity {
        Some(identity) => privilege::drop_to(identity).map_err(|e| Step::Drop.tag(e))?,
        None => privilege::harden_child().map_err(|e| Step::Harden.tag(e))?,
    }
    // The parent-death signal was armed just now; if the grader already died, it will not come.
    if unistd::getppid().as_raw() != plan.parent {
        return Err(Step::ParentGone.tag(io::Error::from_raw_os_error(0)));
    }
    // After the drop, so the kernel checks the run's user may enter the directory.
    unistd::chdir(plan.cwd.as_c_str()).map_err(|e| Step::Chdir.tag(e.into()))?;
    if let Some(fd) = plan.keep_fd {
        // SAFETY: plain system call on a descriptor this process holds.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
            return Err(Step::KeepFd.tag(io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// A child that has started, with the grader's ends of its pipes.
#[derive(Debug)]
pub(super) struct Started {
    pub child: Child,
    pub pidfd: Option<OwnedFd>,
    pub capture: Capture,
}

pub(super) fn start(spec: &Spec) -> Result<Started, SandboxError> {
    let program = spec.program.to_string_lossy().into_owned();
    let refuse = |message: String| SandboxError::Spawn {
        program: program.clone(),
        source: io::Error::new(io::ErrorKind::PermissionDenied, message),
    };
    if let Some(identity) = &spec.identity {
        if identity.uid == 0 || identity.gid == 0 {
            return Err(refuse(format!(
                "refusing to run student code as root (identity `{}`)",
                identity.name
            )));
        }
        if !privilege::is_root() {
            return Err(refuse(format!(
                "running as user `{}` needs the grader to be root",
                identity.name
            )));
        }
    }
    let cwd = CString::new(spec.cwd.as_os_str().as_bytes()).map_err(|_| SandboxError::Spawn {
        program: program.clone(),
        source: io::Error::new(
            io::ErrorKind::InvalidInput,
            "working directory contains NUL",
        ),
    })?;
    let plan = ChildPlan {
        isolate_network: spec.isolate_network,
        limits: limits_of(&spec.limits),
        identity: spec.identity.clone(),
        parent: unistd::getpid().as_raw(),
        cwd,
        keep_fd: spec.ready_fd.as_ref().map(|fd| fd.as_raw_fd()),
    };

    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(match spec.stdin {
            Stdin::Null => Stdio::null(),
            Stdin::Bytes(_) | Stdin::Pipe => Stdio::piped(),
        });
    if let Some(fd) = plan.keep_fd {
        command.env(super::READY_FD_VAR, fd.to_string());
    }
    // SAFETY: `prepare_child` only makes system calls on the plan, which was built before the
    // fork and is not changed after it; it allocates nothing and takes no lock (see module doc).
    unsafe { command.pre_exec(move || prepare_child(&plan)) };

    let mut child = {
        let mut live = sweep::live_runs();
        let child = command.spawn().map_err(|source| SandboxError::Spawn {
            program: program.clone(),
            source: explain(source),
        })?;
        live.push(LiveRun {
            pid: child_pid(&child),
            uid: spec.identity.as_ref().map(|identity| identity.uid),
        });
        child
    };
    let pid = child_pid(&child);
    // Pinned before anything can reap it, so the fd is this child for sure.
    let pidfd = rustix::process::Pid::from_raw(pid).and_then(|raw| {
        rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()).ok()
    });
    let stdin = match (&spec.stdin, child.stdin.take()) {
        (Stdin::Bytes(bytes), Some(pipe)) => Some((OwnedFd::from(pipe), bytes.clone(), false)),
        (Stdin::Pipe, Some(pipe)) => Some((OwnedFd::from(pipe), Vec::new(), true)),
        _ => None,
    };
    let stdout = child.stdout.take().map(OwnedFd::from);
    let stderr = child.stderr.take().map(OwnedFd::from);
    match Capture::new(stdin, stdout, stderr, spec.output_cap) {
        Ok(capture) => Ok(Started {
            child,
            pidfd,
            capture,
        }),
        Err(source) => {
            let _ = child.kill();
            let _ = child.wait();
            sweep::forget(pid);
            Err(SandboxError::Io {
                what: "make the child's pipes non-blocking".to_owned(),
                source,
            })
        }
    }
}

fn child_pid(child: &Child) -> i32 {
    // A pid always fits: the kernel's maximum is 2^22.
    i32::try_from(child.id()).unwrap_or(i32::MAX)
}
