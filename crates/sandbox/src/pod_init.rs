//! The inside of a pod (see `pod`): the grader's executable started with [`POD_INIT_ARG`].
//!
//! Two processes: the *keeper* (the re-executed grader) reads the pod's setup, makes the
//! namespaces and forks the *init*, tells the grader the init's pid, and waits for it. The init is
//! PID 1 of the new PID namespace (or a plain root process without namespaces): it lays out the
//! mount view, brings loopback up, then serves spawn requests. For each it forks a child that
//! drops privileges (`spawn::prepare_child`, the same steps as a direct spawn) and execs; the init
//! waits for the exec with a deadline (a child stopped before its exec is killed and reported), and
//! sends the child's pidfd, later its exit status.
//!
//! Both are root and single-threaded. They must never run student code as root, never wait
//! without a bound on a process a student can stop, and never outlive the grader (parent-death
//! signals, and the init ends when its socket closes).

use std::collections::HashSet;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use nix::libc;
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{self, ForkResult};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

use super::pod::POD_INIT_ARG;
use super::pod_wire::{self, FromInit, Setup, SpawnRequest, ToInit};
use super::{Identity, spawn};

/// Every namespace a pod has (the network one only when asked for).
pub(super) const NAMESPACE_FLAGS: CloneFlags = CloneFlags::CLONE_NEWPID
    .union(CloneFlags::CLONE_NEWNS)
    .union(CloneFlags::CLONE_NEWIPC)
    .union(CloneFlags::CLONE_NEWUTS)
    .union(CloneFlags::CLONE_NEWNET);

/// How long a child may take from fork to exec before the init kills it.
const EXEC_BOUND: Duration = Duration::from_secs(5);

/// How long the init waits for the grader's go for a new process.
const GO_BOUND: Duration = Duration::from_secs(10);

/// When this process was started as a pod init, runs the pod and never returns. Call it first in
/// `main`, before anything starts a thread.
pub fn run_if_pod_init() {
    let mut args = std::env::args_os();
    let _ = args.next();
    if args.next().is_some_and(|a| a == POD_INIT_ARG) {
        let code = keeper();
        std::process::exit(code);
    }
}

fn keeper() -> i32 {
    // SAFETY: the grader put the socket at descriptor 3 just before exec (see `Pod::new`).
    let sock = unsafe { OwnedFd::from_raw_fd(3) };
    let _ = rustix::io::fcntl_setfd(&sock, rustix::io::FdFlags::CLOEXEC);
    let setup: Setup = match pod_wire::recv(sock.as_fd(), None) {
        Ok(Some((setup, _))) => setup,
        _ => return 2,
    };
    let failed = |why: String| {
        let _ = pod_wire::send(sock.as_fd(), &FromInit::SetupFailed(why), &[]);
        2
    };
    if setup.namespaces {
        let mut flags = NAMESPACE_FLAGS;
        if !setup.network {
            flags.remove(CloneFlags::CLONE_NEWNET);
        }
        if let Err(errno) = unshare(flags) {
            return failed(format!("unshare: {errno}"));
        }
    }
    let keeper_pid = unistd::getpid();
    // SAFETY: this process is single-threaded (it was just exec'd and started no thread).
    match unsafe { unistd::fork() } {
        Err(errno) => failed(format!("fork of the init: {errno}")),
        Ok(ForkResult::Child) => {
            let code = match init(&sock, &setup, keeper_pid) {
                Ok(()) => 0,
                Err(why) => failed(why),
            };
            std::process::exit(code);
        }
        Ok(ForkResult::Parent { child }) => {
            let _ = pod_wire::send(sock.as_fd(), &FromInit::InitPid(child.as_raw()), &[]);
            // Only the init talks to the grader from now on: when it ends, the socket closes.
            drop(sock);
            loop {
                match nix::sys::wait::waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    _ => return 0,
                }
            }
        }
    }
}

fn init(sock: &OwnedFd, setup: &Setup, keeper: unistd::Pid) -> Result<(), String> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(|e| format!("prctl: {e}"))?;
    // In a new PID namespace the keeper is outside it and shows as pid 0.
    let parent = unistd::getppid();
    if parent != keeper && !(setup.namespaces && parent.as_raw() == 0) {
        return Err("the keeper ended".into());
    }
    if setup.namespaces {
        super::mounts::prepare(&setup.view)?;
        if setup.network {
            loopback_up().map_err(|e| format!("bring loopback up: {e}"))?;
        }
        let _ = unistd::sethostname("ipc-lab-pod");
    } else {
        // Orphans of student processes come to the init, which reaps them.
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).map_err(|e| e.to_string())?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| e.to_string())?;
    pod_wire::send(sock.as_fd(), &FromInit::Ready, &[]).map_err(|e| e.to_string())?;
    let mut mains: HashSet<i32> = HashSet::new();
    loop {
        let (request, child_exited) = {
            let mut fds = [
                PollFd::new(sock, PollFlags::IN),
                PollFd::new(&signals, PollFlags::IN),
            ];
            match poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.to_string()),
            }
            (!fds[0].revents().is_empty(), !fds[1].revents().is_empty())
        };
        if child_exited {
            while let Ok(Some(_)) = signals.read_signal() {}
        }
        reap(sock, &mut mains);
        if request {
            match pod_wire::recv::<ToInit>(sock.as_fd(), None) {
                Ok(Some((ToInit::Spawn(request), fds))) => {
                    let id = request.id;
                    let answer = start(sock, &request, fds, &mask);
                    let message = match answer {
                        Ok(inner_pid) => {
                            mains.insert(inner_pid);
                            FromInit::Execed { id }
                        }
                        Err((code, message)) => FromInit::SpawnFailed { id, code, message },
                    };
                    if pod_wire::send(sock.as_fd(), &message, &[]).is_err() {
                        return Ok(());
                    }
                }
                Ok(Some((ToInit::Go { .. }, _))) => {}
                // The grader closed its end (or is gone): the pod ends with the init.
                Ok(None) | Err(_) => return Ok(()),
            }
        }
    }
}

/// Reaps every child that ended; reports the ones the grader started.
fn reap(sock: &OwnedFd, mains: &mut HashSet<i32>) {
    loop {
        let mut status = 0;
        // SAFETY: plain system call on a local out-parameter.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        if mains.remove(&pid) {
            let _ = pod_wire::send(
                sock.as_fd(),
                &FromInit::Exited {
                    inner_pid: pid,
                    status,
                },
                &[],
            );
        }
    }
}

/// Forks and execs one request; returns the child's pid and a pidfd of it, or a step-tagged code
/// (or 0 and words).
fn start(
    sock: &OwnedFd,
    request: &SpawnRequest,
    mut fds: Vec<OwnedFd>,
    blocked: &SigSet,
) -> Result<i32, (i32, String)> {
    let wanted = 3 + usize::from(request.ready_fd);
    if fds.len() != wanted {
        return Err((
            0,
            format!("the spawn request came without its {wanted} descriptors"),
        ));
    }
    let words = |e: &dyn std::fmt::Display| (0, e.to_string());
    let ready = if request.ready_fd { fds.pop() } else { None };
    let stderr = fds.pop().ok_or((0, String::new()))?;
    let stdout = fds.pop().ok_or((0, String::new()))?;
    let stdin = fds.pop().ok_or((0, String::new()))?;
    let c = |bytes: &[u8]| {
        CString::new(bytes).map_err(|_| (0, "a NUL byte in the command".to_string()))
    };
    let program = c(&request.program)?;
    let mut argv = vec![program.clone()];
    for arg in &request.args {
        argv.push(c(arg)?);
    }
    let mut envp = Vec::new();
    for (key, value) in &request.env {
        let mut pair = key.clone();
        pair.push(b'=');
        pair.extend_from_slice(value);
        envp.push(c(&pair)?);
    }
    let plan = spawn::ChildPlan {
        isolate_network: request.isolate_network,
        limits: spawn::limits_of(&request.limits.limits()),
        identity: Some(Identity {
            name: request.name.clone(),
            uid: request.uid,
            gid: request.gid,
            groups: request.groups.clone(),
        }),
        parent: unistd::getpid().as_raw(),
        cwd: c(request.cwd.as_os_str().as_bytes())?,
        keep_fd: None,
    };
    let (status_read, status_write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| words(&e))?;
    let (go_read, go_write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| words(&e))?;
    // SAFETY: the init is single-threaded, so the child may do anything the parent could.
    match unsafe { unistd::fork() } {
        Err(errno) => Err((errno as i32, "fork".into())),
        Ok(ForkResult::Child) => {
            drop(go_write);
            // Still root here: only the grader's go (or the init's death) moves it on.
            let mut byte = [0u8; 1];
            let code = match rustix::io::read(&go_read, &mut byte) {
                Ok(1) => child(
                    &plan,
                    [&stdin, &stdout, &stderr],
                    ready.as_ref(),
                    &program,
                    &argv,
                    &envp,
                    blocked,
                ),
                _ => libc::ECANCELED,
            };
            let _ = rustix::io::write(&status_write, &code.to_ne_bytes());
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop((stdin, stdout, stderr, status_write, go_read, ready));
            let pid = child.as_raw();
            let kill = || {
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
            };
            let Some(pidfd) = rustix::process::Pid::from_raw(pid).and_then(|p| {
                rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
            }) else {
                kill();
                return Err((0, "no pidfd for the new process".into()));
            };
            let spawned = FromInit::Spawned {
                id: request.id,
                inner_pid: pid,
            };
            if pod_wire::send(sock.as_fd(), &spawned, &[pidfd.as_raw_fd()]).is_err() {
                kill();
                return Err((0, "the grader is gone".into()));
            }
            drop(pidfd);
            match pod_wire::recv::<ToInit>(sock.as_fd(), Some(Instant::now() + GO_BOUND)) {
                Ok(Some((ToInit::Go { id }, _))) if id == request.id => {}
                _ => {
                    kill();
                    return Err((0, "the grader did not let the new process go on".into()));
                }
            }
            if rustix::io::write(&go_write, &[1]).is_err() {
                kill();
                return Err((0, "the new process ended before its exec".into()));
            }
            match exec_result(&status_read, Instant::now() + EXEC_BOUND) {
                Some(0) => Ok(pid),
                Some(code) => {
                    kill();
                    Err((code, String::new()))
                }
                None => {
                    kill();
                    Err((
                        0,
                        format!(
                            "the new process did not reach exec within {} s (stopped between its privilege drop and exec, e.g. by a SIGSTOP from another process of its user); it was killed",
                            EXEC_BOUND.as_secs()
                        ),
                    ))
                }
            }
        }
    }
}

/// Reads the child's exec report: Some(0) when it exec'd (end of file), Some(code) when a step
/// failed, None when the deadline passed first.
fn exec_result(pipe: &OwnedFd, until: Instant) -> Option<i32> {
    let mut got = [0u8; 4];
    let mut have = 0;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let timeout = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(pipe, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
        match rustix::io::read(pipe, &mut got[have..]) {
            Ok(0) if have == 0 => return Some(0),
            Ok(0) => return Some(libc::EIO),
            Ok(n) => {
                have += n;
                if have == 4 {
                    return Some(i32::from_ne_bytes(got));
                }
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(_) => return Some(libc::EIO),
        }
    }
}

/// The child's side: stdio, the same steps as a direct spawn, a fresh session keyring, exec.
/// Returns only on failure, with the code to report.
fn child(
    plan: &spawn::ChildPlan,
    stdio: [&OwnedFd; 3],
    ready: Option<&OwnedFd>,
    program: &CString,
    argv: &[CString],
    envp: &[CString],
    blocked: &SigSet,
) -> i32 {
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(blocked), None);
    for (target, fd) in stdio.iter().enumerate() {
        // SAFETY: plain system call on descriptors this process owns.
        if unsafe { libc::dup2(fd.as_raw_fd(), target as i32) } < 0 {
            return io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
        }
    }
    if let Some(fd) = ready {
        // Descriptor 3, open across exec (dup2 onto itself would keep close-on-exec).
        // SAFETY: plain system calls on descriptors this process owns.
        let placed = if fd.as_raw_fd() == 3 {
            unsafe { libc::fcntl(3, libc::F_SETFD, 0) }
        } else {
            unsafe { libc::dup2(fd.as_raw_fd(), 3) }
        };
        if placed < 0 {
            return io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
        }
    }
    if let Err(e) = spawn::prepare_child(plan) {
        return e.raw_os_error().unwrap_or(libc::EIO);
    }
    // A session keyring of its own, so no key of an earlier run of this user is in reach
    // through the session keyring (the user keyring is emptied after every run by owner).
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) takes no pointer we own.
    unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            1, /* KEYCTL_JOIN_SESSION_KEYRING */
            0usize,
        );
    }
    // Every descriptor but stdio (and the ready one) closes at exec (the socket and signalfd
    // already do).
    let first_closed: u32 = if ready.is_some() { 4 } else { 3 };
    // SAFETY: plain system call.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first_closed,
            u32::MAX,
            4u32, /* CLOSE_RANGE_CLOEXEC */
        );
    }
    let argv_ptrs: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp_ptrs: Vec<*const libc::c_char> = envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: null-terminated arrays of pointers into live CStrings.
    unsafe { libc::execve(program.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Brings the loopback interface of the pod's network namespace up.
fn loopback_up() -> io::Result<()> {
    // SAFETY: a plain socket, closed by OwnedFd.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just made.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain data; zero is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: the ioctls read and write the ifreq we own.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(io::Error::last_os_error());
        }
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
