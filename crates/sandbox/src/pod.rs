//! Pods: one small init process per check that every student process of the check is started by.
//!
//! The init is the grader's own executable re-executed in a hidden mode (see `pod_init`), so it
//! is single-threaded and may allocate. It runs as root, so no student uid can signal it; when the
//! grader may make namespaces it is PID 1 of a new PID namespace and holds new IPC, mount, UTS and
//! (per check) network namespaces: a student can signal only the processes of its own pod, SysV
//! and POSIX IPC objects die with the pod, /tmp and /dev/shm are the pod's own, and directories
//! with other students' data are covered. Killing the init (SIGKILL) ends every process in it.
//!
//! The grader talks to the init over a socketpair and never waits on it without a deadline; the
//! init waits for a child's `exec` with a deadline too, so a student process that stops a child
//! between its privilege drop and its exec (SIGSTOP to every process of its uid) costs that one
//! spawn, never the grader.
//!
//! Without root, or without the program to re-execute, there are no pods: `Running::spawn` starts
//! processes itself, as it always did, and `isolation()` says which guarantees are missing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{PidfdFlags, pidfd_open, pidfd_send_signal};
use serde::{Deserialize, Serialize};

use super::capture::Capture;
use super::pod_wire::{self, FromInit, Setup, SpawnRequest, ToInit};
use super::{Running, SandboxError, Spec, Stdin};

/// The hidden first argument that makes the grader's executable a pod init.
pub const POD_INIT_ARG: &str = "__ipc-lab-pod-init";

/// Environment variable naming the program to re-execute as pod init (default: the grader's own
/// executable when it is named `grader`).
pub const POD_PROGRAM_VAR: &str = "GRADER_POD_PROGRAM";

/// Set to `1` to make pods without namespaces (to measure what holds where they cannot be made).
pub const NO_NAMESPACES_VAR: &str = "GRADER_NO_NAMESPACES";

/// How long the init may take to start, and to answer one request (it waits up to
/// `EXEC_BOUND` for a child's exec).
const START_BOUND: Duration = Duration::from_secs(10);
const ANSWER_BOUND: Duration = Duration::from_secs(8);
/// How long a killed init may take to be gone.
const DEATH_BOUND: Duration = Duration::from_secs(2);

/// What the processes of a pod see of the file system (only where namespaces can be made).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// Fresh, empty /tmp, /var/tmp, /dev/shm and /run/lock of the pod's own.
    pub private_tmp: bool,
    /// Directories covered by an empty read-only tmpfs: other students' submissions, build
    /// caches and scratch trees, report directories.
    pub hide: Vec<PathBuf>,
    /// Directories shown again at their own path (inside covered ones), read-write: the check's
    /// scratch tree and build cache entry.
    pub writable: Vec<PathBuf>,
    /// Directories shown again read-only if they lie inside a covered one: the toolchain, the
    /// offline crates, the lab's tools.
    pub read_only: Vec<PathBuf>,
}

/// The guarantees of isolation this grader can give here, as data a report can print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// Student processes are started by pods.
    pub pods: bool,
    /// Pods have their own PID, IPC, mount, UTS and network namespaces.
    pub namespaces: bool,
    /// What does not hold, one sentence each (empty when everything holds).
    pub missing: Vec<String>,
}

/// What isolation holds here (root, the pod program, namespaces); computed once.
pub fn isolation() -> Isolation {
    let pods = pods_available();
    let namespaces = pods && namespaces_available();
    let mut missing = Vec::new();
    if !crate::privilege::is_root() {
        missing.push(
            "not root: student code runs as the grader's own user and can signal, read and change whatever that user can (the grader itself, its reports, other runs)".to_owned(),
        );
    } else if !pods {
        missing.push(
            "no pod program: student processes are started by the grader itself, so a student process that stops a half-started child can delay a spawn until its deadline".to_owned(),
        );
    }
    if !namespaces {
        missing.extend(
            [
                "no PID namespace: student code can see every process of the machine and signal every process of its own uid (other checks of the same run)",
                "no IPC namespace: SysV objects are removed by owner after the run, POSIX message queues only where /dev/mqueue is mounted",
                "no mount namespace: student code sees the whole file system (other students' world-readable submissions, shared /tmp and /dev/shm while the run lasts)",
                "no per-check network namespace: the grader relies on the container's own (`docker run --network none`)",
            ]
            .map(str::to_owned),
        );
    }
    Isolation {
        pods,
        namespaces,
        missing,
    }
}

/// Whether pods can be made: root, and a pod program to re-execute.
pub fn pods_available() -> bool {
    crate::privilege::is_root() && pod_program().is_some()
}

fn pod_program() -> Option<&'static PathBuf> {
    static PROGRAM: OnceLock<Option<PathBuf>> = OnceLock::new();
    PROGRAM
        .get_or_init(|| {
            if let Some(program) = std::env::var_os(POD_PROGRAM_VAR) {
                return Some(PathBuf::from(program)).filter(|p| p.is_file());
            }
            let me = std::env::current_exe().ok()?;
            (me.file_name()? == "grader").then_some(me)
        })
        .as_ref()
}

/// Whether new PID, IPC, mount, UTS and network namespaces can be made here; checked once.
pub fn namespaces_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        std::env::var_os(NO_NAMESPACES_VAR).is_none_or(|v| v != "1")
            && super::probe_unshare(super::pod_init::NAMESPACE_FLAGS)
    })
}

/// A running pod. Cloning shares it; the last clone dropped kills it.
///
/// The pod's keeper gets SIGKILL when the *thread* that made the pod ends (its parent-death
/// signal), and every process of the pod dies with it: make a pod on a thread that outlives its
/// use, and hand clones to helper threads.
#[derive(Debug, Clone)]
pub struct Pod {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(super) struct Shared {
    /// The re-executed grader: it made the namespaces and waits for the init.
    keeper: Mutex<Option<Child>>,
    keeper_pidfd: Option<OwnedFd>,
    init_pid: i32,
    init_pidfd: OwnedFd,
    namespaces: bool,
    network: bool,
    channel: Mutex<Channel>,
}

#[derive(Debug)]
struct Channel {
    sock: OwnedFd,
    next_id: u64,
    /// Exit statuses received but not yet asked for, by the pid inside the pod.
    exited: HashMap<i32, i32>,
    dead: bool,
}

fn io_error(what: &str, source: io::Error) -> SandboxError {
    SandboxError::Io {
        what: what.to_owned(),
        source,
    }
}

impl Pod {
    /// Starts a pod: with its own namespaces and `view` when they can be made (and a network
    /// namespace when `network`), else a plain root init. Needs `pods_available()`.
    pub fn new(view: View, network: bool) -> Result<Pod, SandboxError> {
        let program = pod_program()
            .ok_or_else(|| io_error("start a pod", io::Error::other("no pod program")))?;
        let namespaces = namespaces_available();
        let (mine, theirs) = pod_wire::pair().map_err(|e| io_error("make the pod's socket", e))?;
        let theirs_raw = theirs.as_raw_fd();
        let mut command = Command::new(program);
        command
            .arg(POD_INIT_ARG)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // SAFETY: only system calls on a descriptor number taken before the fork.
        unsafe {
            command.pre_exec(move || {
                if nix::libc::dup2(theirs_raw, 3) < 0 {
                    return Err(io::Error::last_os_error());
                }
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
                Ok(())
            });
        }
        let keeper = command
            .spawn()
            .map_err(|e| io_error("start the pod's init", e))?;
        drop(theirs);
        let keeper_pidfd = rustix::process::Pid::from_raw(keeper.id() as i32)
            .and_then(|pid| pidfd_open(pid, PidfdFlags::empty()).ok());
        let mut keeper = Some(keeper);
        let abandon = |keeper: &mut Option<Child>| {
            if let Some(mut child) = keeper.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        };
        let setup = Setup {
            namespaces,
            network: network && namespaces,
            view,
        };
        let until = Instant::now() + START_BOUND;
        let started = (|| -> io::Result<(i32, OwnedFd)> {
            pod_wire::send(mine.as_fd(), &setup, &[])?;
            // The keeper's pid message and the init's ready come in either order.
            let mut init_pid = None;
            let mut ready = false;
            while init_pid.is_none() || !ready {
                match pod_wire::recv::<FromInit>(mine.as_fd(), Some(until))? {
                    Some((FromInit::InitPid(pid), _)) => init_pid = Some(pid),
                    Some((FromInit::Ready, _)) => ready = true,
                    Some((FromInit::SetupFailed(why), _)) => return Err(io::Error::other(why)),
                    Some(_) => {}
                    None => return Err(io::Error::other("the pod's init ended while starting")),
                }
            }
            let pid = init_pid.ok_or_else(|| io::Error::other("no init pid"))?;
            let raw = rustix::process::Pid::from_raw(pid)
                .ok_or_else(|| io::Error::other("bad init pid"))?;
            Ok((pid, pidfd_open(raw, PidfdFlags::empty())?))
        })();
        let (init_pid, init_pidfd) = match started {
            Ok(pair) => pair,
            Err(e) => {
                abandon(&mut keeper);
                return Err(io_error("start a pod", e));
            }
        };
        Ok(Pod {
            shared: Arc::new(Shared {
                keeper: Mutex::new(keeper),
                keeper_pidfd,
                init_pid,
                init_pidfd,
                namespaces,
                network: setup.network,
                channel: Mutex::new(Channel {
                    sock: mine,
                    next_id: 1,
                    exited: HashMap::new(),
                    dead: false,
                }),
            }),
        })
    }

    /// Whether the pod has namespaces of its own.
    pub fn namespaced(&self) -> bool {
        self.shared.namespaces
    }

    /// The init's pid as the grader sees it.
    pub fn init_pid(&self) -> i32 {
        self.shared.init_pid
    }

    /// Starts a process in the pod. The spec must have an identity (pods run nothing as root);
    /// `spec.isolate_network` is the pod's business, not the spec's.
    pub fn spawn(&self, spec: Spec) -> Result<Running, SandboxError> {
        spawn_in(&self.shared, spec, false)
    }

    /// Kills every process of the pod (SIGKILL of its init) and waits, bounded, until it is gone.
    pub fn kill(&self) {
        self.shared.kill();
    }
}

impl Shared {
    pub(super) fn namespaced(&self) -> bool {
        self.namespaces
    }

    /// The grader's view of the pid of the pod's init.
    pub(super) fn init(&self) -> i32 {
        self.init_pid
    }

    pub(super) fn init_pid(&self) -> i32 {
        self.init_pid
    }

    fn kill(&self) {
        let _ = pidfd_send_signal(&self.init_pidfd, rustix::process::Signal::KILL);
        wait_readable(&self.init_pidfd, Instant::now() + DEATH_BOUND);
        lock(&self.channel).dead = true;
        let mut keeper = self.keeper.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut child) = keeper.take() {
            // The keeper ends as soon as its init has: it is root, so no student can stop it.
            match &self.keeper_pidfd {
                Some(fd) if !wait_readable(fd, Instant::now() + DEATH_BOUND) => {
                    let _ = child.kill();
                }
                _ => {}
            }
            let _ = child.wait();
        }
    }

    /// The exit status of process `inner_pid` of this pod, waiting for it until `until`.
    pub(super) fn status(&self, inner_pid: i32, until: Instant) -> io::Result<ExitStatus> {
        loop {
            let mut channel = lock(&self.channel);
            if let Some(status) = channel.exited.remove(&inner_pid) {
                return Ok(ExitStatus::from_raw(status));
            }
            if channel.dead {
                return Err(io::Error::other(
                    "the pod ended before the process's status came",
                ));
            }
            let step = until.min(Instant::now() + Duration::from_millis(50));
            match pod_wire::recv::<FromInit>(channel.sock.as_fd(), Some(step)) {
                Ok(Some((FromInit::Exited { inner_pid, status }, _))) => {
                    channel.exited.insert(inner_pid, status);
                }
                Ok(Some(_)) => {}
                Ok(None) => channel.dead = true,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    if Instant::now() >= until {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.kill();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Polls `fd` until readable or `until`; says whether it became readable.
fn wait_readable(fd: &OwnedFd, until: Instant) -> bool {
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

/// A run started in a pod: what its `Running` needs to get its status and end it.
#[derive(Debug)]
pub(super) struct PodRun {
    pub shared: Arc<Shared>,
    pub inner_pid: i32,
    /// The pod was made for this run alone and is killed when it ends.
    pub private: bool,
}

impl PodRun {
    pub(super) fn end(&self) {
        if self.private {
            self.shared.kill();
        }
    }
}

fn spawn_in(shared: &Arc<Shared>, spec: Spec, private: bool) -> Result<Running, SandboxError> {
    let program = spec.program.to_string_lossy().into_owned();
    let refuse = |source: io::Error| SandboxError::Spawn {
        program: program.clone(),
        source,
    };
    let Some(identity) = spec.identity.clone() else {
        return Err(refuse(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "a pod runs only student code as a lab user, never as the grader's own user",
        )));
    };
    if identity.uid == 0 || identity.gid == 0 {
        return Err(refuse(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "refusing to run student code as root (identity `{}`)",
                identity.name
            ),
        )));
    }
    let started = Instant::now();
    // The grader's ends and the child's ends of stdio.
    let (stdin_child, stdin_mine) = match &spec.stdin {
        Stdin::Null => (
            OwnedFd::from(std::fs::File::open("/dev/null").map_err(&refuse)?),
            None,
        ),
        Stdin::Bytes(bytes) => {
            let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| refuse(e.into()))?;
            (read, Some((write, bytes.clone(), false)))
        }
        Stdin::Pipe => {
            let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| refuse(e.into()))?;
            (read, Some((write, Vec::new(), true)))
        }
    };
    let (out_read, out_write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| refuse(e.into()))?;
    let (err_read, err_write) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| refuse(e.into()))?;
    let limits = pod_wire::WireLimits::of(&spec.limits);
    let reply = {
        let mut channel = lock(&shared.channel);
        if channel.dead {
            return Err(refuse(io::Error::other("the pod has ended")));
        }
        let id = channel.next_id;
        channel.next_id += 1;
        let request = SpawnRequest {
            id,
            program: resolve(&spec.program, &spec.env).as_bytes().to_vec(),
            args: spec.args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            env: spec
                .env
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .chain(
                    spec.ready_fd
                        .as_ref()
                        .map(|_| (super::READY_FD_VAR.as_bytes().to_vec(), b"3".to_vec())),
                )
                .collect(),
            cwd: spec.cwd.clone(),
            uid: identity.uid,
            gid: identity.gid,
            groups: identity.groups.clone(),
            name: identity.name.clone(),
            limits,
            isolate_network: spec.isolate_network
                && !shared.network
                && super::network_isolation_available(),
            ready_fd: spec.ready_fd.is_some(),
        };
        pod_wire::send(
            channel.sock.as_fd(),
            &ToInit::Spawn(Box::new(request)),
            &[
                stdin_child.as_raw_fd(),
                out_write.as_raw_fd(),
                err_write.as_raw_fd(),
            ]
            .into_iter()
            .chain(spec.ready_fd.as_ref().map(|fd| fd.as_raw_fd()))
            .collect::<Vec<_>>(),
        )
        .map_err(&refuse)?;
        let until = Instant::now() + ANSWER_BOUND;
        // First the new process's pidfd (it waits, as root, for our go), then its exec.
        let mut spawned: Option<(i32, i32, Option<OwnedFd>)> = None;
        loop {
            match pod_wire::recv::<FromInit>(channel.sock.as_fd(), Some(until)) {
                Ok(Some((FromInit::Exited { inner_pid, status }, _))) => {
                    channel.exited.insert(inner_pid, status);
                }
                Ok(Some((FromInit::Spawned { id: got, inner_pid }, mut fds))) if got == id => {
                    let pidfd = fds.pop();
                    let pid = pidfd.as_ref().and_then(pod_wire::pid_of_pidfd).unwrap_or(0);
                    spawned = Some((inner_pid, pid, pidfd));
                    if let Err(e) = pod_wire::send(channel.sock.as_fd(), &ToInit::Go { id }, &[]) {
                        break Err(e);
                    }
                }
                Ok(Some((FromInit::Execed { id: got }, _))) if got == id => {
                    break match spawned.take() {
                        Some((inner_pid, pid, Some(pidfd))) if pid > 0 => {
                            Ok((inner_pid, pid, pidfd))
                        }
                        _ => Err(io::Error::other("the new process has no pid here")),
                    };
                }
                Ok(Some((
                    FromInit::SpawnFailed {
                        id: got,
                        code,
                        message,
                    },
                    _,
                ))) if got == id => {
                    break Err(if code != 0 {
                        super::spawn::explain(io::Error::from_raw_os_error(code))
                    } else {
                        io::Error::other(message)
                    });
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    channel.dead = true;
                    break Err(io::Error::other("the pod's init ended"));
                }
                Err(e) => break Err(e),
            }
        }
    };
    drop((stdin_child, out_write, err_write));
    let (inner_pid, pid, pidfd) = reply.map_err(&refuse)?;
    let capture = Capture::new(stdin_mine, Some(out_read), Some(err_read), spec.output_cap)
        .map_err(|e| io_error("make the child's pipes non-blocking", e))?;
    super::sweep::live_runs().push(super::sweep::LiveRun {
        pid,
        uid: Some(identity.uid),
    });
    Ok(Running {
        child: None,
        pod: Some(PodRun {
            shared: Arc::clone(shared),
            inner_pid,
            private,
        }),
        pid,
        pidfd: Some(pidfd),
        capture,
        uid: Some(identity.uid),
        started,
        deadline: started + spec.deadline,
        end: None,
        at_deadline: None,
        left_behind: 0,
    })
}

/// A program named without a slash, looked up on the spec's own PATH (as `Command` would).
fn resolve(program: &OsString, env: &[(OsString, OsString)]) -> OsString {
    if program.as_bytes().contains(&b'/') {
        return program.clone();
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    crate::resolve_program(&program.to_string_lossy(), &path)
}

/// The pod of the check running on this thread, made when first needed (see `enter`).
struct Scope {
    view: View,
    network: bool,
    pod: Option<Pod>,
}

thread_local! {
    static CURRENT: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// While this lives, every student process this thread starts goes into one pod (made on the
/// first spawn with `view`, a network namespace of its own when `network`), which is killed when
/// the guard is dropped. The check runner makes one per check.
#[derive(Debug)]
pub struct PodScope {
    previous: bool,
}

/// Starts a pod scope on this thread (see [`PodScope`]).
pub fn enter(view: View, network: bool) -> PodScope {
    let previous = CURRENT.with(|current| {
        current
            .borrow_mut()
            .replace(Scope {
                view,
                network,
                pod: None,
            })
            .is_some()
    });
    PodScope { previous }
}

impl Drop for PodScope {
    fn drop(&mut self) {
        let scope = CURRENT.with(|current| current.borrow_mut().take());
        if let Some(Scope { pod: Some(pod), .. }) = scope {
            pod.kill();
        }
        debug_assert!(!self.previous, "pod scopes do not nest");
    }
}

/// The pod of this thread's scope (see [`enter`]), made now if it was not yet: for a check that
/// starts processes from several threads (hand it to them and call [`Pod::spawn`]). None outside
/// a scope or where pods cannot be made.
pub fn current() -> Option<Result<Pod, SandboxError>> {
    if !pods_available() {
        return None;
    }
    CURRENT.with(|current| {
        let mut current = current.borrow_mut();
        let scope = current.as_mut()?;
        if scope.pod.is_none() {
            match Pod::new(scope.view.clone(), scope.network) {
                Ok(pod) => scope.pod = Some(pod),
                Err(e) => return Some(Err(e)),
            }
        }
        scope.pod.clone().map(Ok)
    })
}

/// `Running::spawn` as root: into this thread's pod when there is one that fits, else into a
/// pod of its own. None when pods are not available (the caller starts the process itself).
pub(super) fn spawn_for(spec: Spec) -> Option<Result<Running, SandboxError>> {
    if spec.identity.is_none() || !pods_available() {
        return None;
    }
    let wanted_network = spec.isolate_network;
    let from_scope = CURRENT.with(|current| -> Option<Result<Pod, SandboxError>> {
        let mut current = current.borrow_mut();
        let scope = current.as_mut()?;
        if scope.network != wanted_network && namespaces_available() {
            return None;
        }
        if scope.pod.is_none() {
            match Pod::new(scope.view.clone(), scope.network) {
                Ok(pod) => scope.pod = Some(pod),
                Err(e) => return Some(Err(e)),
            }
        }
        scope.pod.clone().map(Ok)
    });
    Some(match from_scope {
        Some(Ok(pod)) => spawn_in(&pod.shared, spec, false),
        Some(Err(e)) => Err(e),
        None => thread_pod(wanted_network).and_then(|pod| spawn_in(&pod.shared, spec, false)),
    })
}

thread_local! {
    /// Pods for spawns outside any check's scope (preflight, `grader depth`, clean-up helpers):
    /// one per thread and network setting, killed when the thread ends (the keeper's
    /// parent-death signal and the thread-local's destructor).
    static THREAD_PODS: RefCell<Vec<(bool, Pod)>> = const { RefCell::new(Vec::new()) };
}

fn thread_pod(network: bool) -> Result<Pod, SandboxError> {
    THREAD_PODS.with(|pods| {
        let mut pods = pods.borrow_mut();
        pods.retain(|(_, pod)| !lock(&pod.shared.channel).dead);
        if let Some((_, pod)) = pods.iter().find(|(n, _)| *n == network) {
            return Ok(pod.clone());
        }
        let pod = Pod::new(View::default(), network)?;
        pods.push((network, pod.clone()));
        Ok(pod)
    })
}

/// Whether a pod for a spec would have a network namespace of its own (reported by checks that
/// rely on it).
pub fn network_isolated(pod: &Pod) -> bool {
    pod.shared.network
}
