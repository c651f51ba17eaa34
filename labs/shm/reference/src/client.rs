//! ipc.so: the four C functions of the notebook. `ipc_get_job_buffer` makes a sealed memfd for
//! the job, connects to the server's socket (waiting a bounded time for it to appear) and hands
//! over the memfd and the descriptors the server may use on the client's behalf.
//!
//! These functions are called from C and Python: they must never panic across the boundary,
//! never block without a deadline while connecting, and never spin while waiting for a job
//! (they sleep on the `status` futex).

use crate::abi::{self, JobRequestBuffer, SharedJob, offset};
use crate::region::Region;
use crate::{rendezvous, wire};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::inotify;
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use rustix::thread::futex;
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long `wait_for_job_completion` sleeps before it rings again and checks the server.
const RECHECK: Duration = Duration::from_millis(200);

/// One open job buffer of this process.
#[derive(Debug)]
struct Connection {
    sock: OwnedFd,
    job: Region,
    doorbell: Region,
}

impl Connection {
    fn shared(&self) -> SharedJob {
        // SAFETY: the region is MAP_SIZE bytes, page-aligned, alive while `self` is.
        unsafe { SharedJob::new(self.job.ptr()) }
    }

    fn seq(&self) -> &AtomicU32 {
        // SAFETY: offset 0 of the server's doorbell page, mapped while `self` is alive.
        unsafe { AtomicU32::from_ptr(self.doorbell.ptr().cast()) }
    }

    fn ring(&self) {
        self.seq().fetch_add(1, Ordering::Release);
        let _ = futex::wake(self.seq(), futex::Flags::empty(), 1);
    }

    /// The server closed its end (it exited or dropped us).
    fn server_gone(&self) -> bool {
        let mut fds = [PollFd::new(&self.sock, PollFlags::IN)];
        match poll(
            &mut fds,
            Some(&futex::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }),
        ) {
            Ok(0) => false,
            Ok(_) => !fds[0].revents().is_empty(),
            Err(_) => false,
        }
    }
}

static CONNECTIONS: Mutex<Vec<Connection>> = Mutex::new(Vec::new());

fn connections() -> std::sync::MutexGuard<'static, Vec<Connection>> {
    CONNECTIONS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Connect to the socket at `path`, waiting until `deadline` for it to appear (inotify on
/// its directory: no polling loop).
fn connect_by(path: &Path, deadline: Instant) -> Result<OwnedFd, String> {
    let addr = SocketAddrUnix::new(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let watch = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
        .map_err(|e| format!("inotify: {e}"))?;
    inotify::add_watch(
        &watch,
        dir,
        inotify::WatchFlags::CREATE | inotify::WatchFlags::MOVED_TO | inotify::WatchFlags::ATTRIB,
    )
    .map_err(|e| {
        format!(
            "cannot watch {} for the server's socket: {e}",
            dir.display()
        )
    })?;
    loop {
        let sock = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| format!("socket: {e}"))?;
        match rustix::net::connect(&sock, &addr) {
            Ok(()) => return Ok(sock),
            Err(Errno::NOENT) | Err(Errno::CONNREFUSED) => {}
            Err(e) => return Err(format!("cannot connect to {}: {e}", path.display())),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no server is listening on {} (start `server N` first, or set {})",
                path.display(),
                rendezvous::SOCKET_ENV
            ));
        }
        let ts = futex::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos() as i64,
        };
        let mut fds = [PollFd::new(&watch, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(format!("poll: {e}")),
        }
        // Drain the events; whatever happened in the directory, try again.
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&watch, &mut buf);
        while reader.next().is_ok() {}
    }
}

fn open_connection() -> Result<Connection, String> {
    let deadline = Instant::now() + rendezvous::wait_for_server();
    let numbers: Vec<i32> = rendezvous::fds_to_pass()?
        .into_iter()
        // SAFETY: only used for the fcntl probe below, while the number is checked open.
        .filter(|n| rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(*n) }).is_ok())
        .take(wire::MAX_FDS)
        .collect();
    let job = Region::create("shm-ipc-job", abi::MAP_SIZE)?;
    let sock = connect_by(&rendezvous::socket_path(), deadline)?;
    let mut lend: Vec<BorrowedFd<'_>> = vec![job.fd().as_fd()];
    // SAFETY: each number was open a moment ago and this process does not close it meanwhile
    // (the caller is inside ipc_get_job_buffer).
    lend.extend(
        numbers
            .iter()
            .map(|n| unsafe { BorrowedFd::borrow_raw(*n) }),
    );
    wire::send(sock.as_fd(), &wire::hello(&numbers), &lend)
        .map_err(|e| format!("cannot send the job buffer to the server: {e}"))?;
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100));
    rustix::net::sockopt::set_socket_timeout(
        &sock,
        rustix::net::sockopt::Timeout::Recv,
        Some(left),
    )
    .map_err(|e| format!("setsockopt: {e}"))?;
    let reply = match wire::recv(sock.as_fd(), false) {
        Ok(Some(r)) => r,
        Ok(None) => return Err("the server closed the connection without an answer".into()),
        Err(Errno::AGAIN) => return Err("the server did not answer in time".into()),
        Err(e) => return Err(format!("no answer from the server: {e}")),
    };
    if let Some(reason) = wire::parse_err(&reply.bytes) {
        return Err(format!("the server refused: {reason}"));
    }
    let mut fds = reply.fds;
    if reply.bytes != wire::OK || fds.len() != 1 {
        return Err("the server's answer is not the lab's protocol".into());
    }
    let doorbell = Region::adopt(fds.remove(0), 4096)?;
    rustix::net::sockopt::set_socket_timeout(&sock, rustix::net::sockopt::Timeout::Recv, None)
        .map_err(|e| format!("setsockopt: {e}"))?;
    Ok(Connection {
        sock,
        job,
        doorbell,
    })
}

/// Connect to the server and return this client's own job buffer, or NULL (with one line on
/// stderr saying why).
#[unsafe(no_mangle)]
pub extern "C" fn ipc_get_job_buffer() -> *mut c_void {
    match std::panic::catch_unwind(open_connection) {
        Ok(Ok(conn)) => {
            let p = conn.job.ptr();
            connections().push(conn);
            p.cast()
        }
        Ok(Err(reason)) => {
            eprintln!("ipc_get_job_buffer: {reason}");
            std::ptr::null_mut()
        }
        Err(_) => {
            eprintln!("ipc_get_job_buffer: internal error");
            std::ptr::null_mut()
        }
    }
}

fn with_connection(job: *mut JobRequestBuffer, what: &str, f: impl FnOnce(&Connection)) {
    let conns = connections();
    match conns.iter().find(|c| c.job.ptr() == job.cast()) {
        Some(c) => f(c),
        None => eprintln!("{what}: {job:p} is not a buffer from ipc_get_job_buffer"),
    }
}

/// Hand the filled-in job to the server.
///
/// # Safety
/// `job` must be a pointer returned by `ipc_get_job_buffer` (anything else is reported and
/// ignored).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn submit_job_request(job: *mut JobRequestBuffer) {
    with_connection(job, "submit_job_request", |c| {
        c.shared()
            .status()
            .store(abi::JOB_REQUESTED, Ordering::Release);
        c.ring();
    });
}

/// Sleep until the server answered the submitted job (or is gone: then `response` is -EPIPE).
///
/// # Safety
/// As for `submit_job_request`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wait_for_job_completion(job: *mut JobRequestBuffer) {
    with_connection(job, "wait_for_job_completion", |c| {
        let sj = c.shared();
        let ts = futex::Timespec {
            tv_sec: RECHECK.as_secs() as i64,
            tv_nsec: RECHECK.subsec_nanos() as i64,
        };
        loop {
            let s = sj.status().load(Ordering::Acquire);
            if s == abi::JOB_DONE || s == abi::JOB_IDLE {
                return;
            }
            // Woken, or the value changed, or interrupted: look again. Timed out: check.
            if let Err(Errno::TIMEDOUT) =
                futex::wait(sj.status(), futex::Flags::empty(), s, Some(&ts))
            {
                if c.server_gone() {
                    sj.store(offset::RESPONSE, -Errno::PIPE.raw_os_error());
                    sj.status().store(abi::JOB_DONE, Ordering::Release);
                    eprintln!("wait_for_job_completion: the server is gone");
                    return;
                }
                // A wake-up can be lost when another client scribbles on the doorbell.
                if s == abi::JOB_REQUESTED {
                    c.ring();
                }
            }
        }
    });
}

/// Close this client's connection and unmap its buffer.
///
/// # Safety
/// As for `submit_job_request`; `job` must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn disconnect_job_buffer(job: *mut JobRequestBuffer) {
    let mut conns = connections();
    match conns.iter().position(|c| c.job.ptr() == job.cast()) {
        Some(i) => drop(conns.swap_remove(i)),
        None => eprintln!("disconnect_job_buffer: {job:p} is not a buffer from ipc_get_job_buffer"),
    }
}
