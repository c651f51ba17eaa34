//! The messages between the grader and a pod's init (see `pod` and `pod_init`): JSON in one
//! `SOCK_SEQPACKET` datagram each, with file descriptors (the child's stdio, a pidfd) passed
//! alongside as `SCM_RIGHTS`.
//!
//! Must never block without a bound on the grader's side (`recv` takes a deadline) and never keep
//! a received descriptor open by accident (every one is `CLOEXEC` and owned).

use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Instant;

use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use serde::{Deserialize, Serialize};

/// The largest message (a command line and environment fit many times over).
pub(super) const MAX_MESSAGE: usize = 256 << 10;

/// What a pod is made with: sent once, first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Setup {
    /// New PID, IPC, mount, UTS (and network, see below) namespaces; false: none at all.
    pub namespaces: bool,
    /// A network namespace of its own (loopback up, nothing else).
    pub network: bool,
    /// The mount view (only with `namespaces`).
    pub view: super::pod::View,
}

/// `super::Limits` on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct WireLimits {
    pub cpu_seconds: u64,
    pub address_space: Option<u64>,
    pub file_size: u64,
    pub processes: u64,
    pub open_files: u64,
}

impl WireLimits {
    pub fn of(limits: &super::Limits) -> WireLimits {
        WireLimits {
            cpu_seconds: limits.cpu_seconds,
            address_space: limits.address_space,
            file_size: limits.file_size,
            processes: limits.processes,
            open_files: limits.open_files,
        }
    }

    pub fn limits(&self) -> super::Limits {
        super::Limits {
            cpu_seconds: self.cpu_seconds,
            address_space: self.address_space,
            file_size: self.file_size,
            processes: self.processes,
            open_files: self.open_files,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SpawnRequest {
    pub id: u64,
    pub program: Vec<u8>,
    pub args: Vec<Vec<u8>>,
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub name: String,
    pub limits: WireLimits,
    /// The child unshares a network namespace of its own (when the pod has none).
    pub isolate_network: bool,
    /// A fourth descriptor follows stdio: the child gets it as descriptor 3 (its ready fd).
    pub ready_fd: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum ToInit {
    Spawn(Box<SpawnRequest>),
    /// The grader knows the new process's pid: it may go on to its exec.
    Go {
        id: u64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum FromInit {
    /// From the keeper: the init's pid as the grader sees it.
    InitPid(i32),
    /// The init made its namespaces and mount view and serves requests.
    Ready,
    /// The init could not make what was asked; it ends.
    SetupFailed(String),
    /// A pidfd of the new process comes with it. The process waits (still root, so no student
    /// can stop it) for `ToInit::Go` before it drops privileges and execs.
    Spawned { id: u64, inner_pid: i32 },
    /// The process reached its exec.
    Execed { id: u64 },
    /// `code` is a `spawn` step-tagged errno, as `spawn::explain` reads it.
    SpawnFailed { id: u64, code: i32, message: String },
    /// A process the init started ended; `status` is the raw wait status.
    Exited { inner_pid: i32, status: i32 },
}

/// Sends one message with `fds` attached.
pub(super) fn send<T: Serialize>(
    sock: BorrowedFd<'_>,
    message: &T,
    fds: &[RawFd],
) -> io::Result<()> {
    let bytes = serde_json::to_vec(message).map_err(io::Error::other)?;
    if bytes.len() > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pod message too large",
        ));
    }
    let iov = [IoSlice::new(&bytes)];
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
    loop {
        match socket::sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    }
}

/// Receives one message and its descriptors, waiting until `until` at most (None: without end,
/// for the init, whose peer is the grader). Ok(None): the peer closed the socket.
pub(super) fn recv<T: for<'de> Deserialize<'de>>(
    sock: BorrowedFd<'_>,
    until: Option<Instant>,
) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    if let Some(until) = until {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let timeout = Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            });
            let mut fds = [PollFd::new(&sock, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the pod's init did not answer in time",
                    ));
                }
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(errno) => return Err(errno.into()),
            }
        }
    }
    let mut buffer = vec![0u8; MAX_MESSAGE];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let (len, fds) = loop {
        let mut iov = [IoSliceMut::new(&mut buffer)];
        match socket::recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                let mut fds = Vec::new();
                for cmsg in msg.cmsgs().map_err(io::Error::from)? {
                    if let ControlMessageOwned::ScmRights(raw) = cmsg {
                        for fd in raw {
                            // SAFETY: the kernel just installed this descriptor for us.
                            fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                        }
                    }
                }
                break (msg.bytes, fds);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => return Err(errno.into()),
        }
    };
    if len == 0 {
        return Ok(None);
    }
    let message = serde_json::from_slice(&buffer[..len]).map_err(io::Error::other)?;
    Ok(Some((message, fds)))
}

/// A connected pair of `SOCK_SEQPACKET` sockets, both close-on-exec.
pub(super) fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::SeqPacket,
        None,
        socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

/// The pid (as this process sees it) of the process a pidfd refers to, from its fdinfo.
pub(super) fn pid_of_pidfd(fd: impl AsFd) -> Option<i32> {
    let path = format!("/proc/self/fdinfo/{}", fd.as_fd().as_raw_fd());
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("Pid:"))
        .and_then(|value| value.trim().parse().ok())
        .filter(|pid: &i32| *pid > 0)
}
