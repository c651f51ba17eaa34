//! Unix SOCK_SEQPACKET sockets with deadlines: bind/listen/accept/connect by path, send one
//! packet, receive one packet before a deadline, the peer's pid. It never interprets a packet's
//! bytes and never waits without a deadline (except `accept` and `recv_blocking`, which the
//! long-running reference server uses and which say so in their names or docs).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr, accept4, bind, connect,
    getsockopt, listen, recv, send, socket, sockopt,
};
use thiserror::Error;

use crate::frame::MAX_PACKET;

/// A socket operation that failed, with the path it concerned.
#[derive(Debug, Error)]
pub enum SocketError {
    #[error("{what} {path}: {source}")]
    Path {
        what: &'static str,
        path: PathBuf,
        source: Errno,
    },
    #[error("{what}: {source}")]
    Op { what: &'static str, source: Errno },
    #[error("packet of more than {MAX_PACKET} bytes")]
    TooBig,
}

/// What one receive gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv {
    /// One whole packet.
    Packet(Vec<u8>),
    /// The peer closed (or a zero-length packet, which the lab's protocol never uses).
    Eof,
    /// Nothing arrived before the deadline.
    Timeout,
}

fn new_socket() -> Result<OwnedFd, SocketError> {
    socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|source| SocketError::Op {
        what: "socket(AF_UNIX, SOCK_SEQPACKET)",
        source,
    })
}

fn addr(path: &Path) -> Result<UnixAddr, SocketError> {
    UnixAddr::new(path).map_err(|source| SocketError::Path {
        what: "socket address",
        path: path.to_owned(),
        source,
    })
}

/// A listening SOCK_SEQPACKET socket bound to a path.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
    path: PathBuf,
}

impl Listener {
    /// Binds `path` (removing a stale socket file left there first) and listens.
    pub fn bind(path: &Path) -> Result<Listener, SocketError> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            if meta.file_type().is_socket() {
                let _ = std::fs::remove_file(path);
            }
        }
        let fd = new_socket()?;
        bind(fd.as_raw_fd(), &addr(path)?).map_err(|source| SocketError::Path {
            what: "bind",
            path: path.to_owned(),
            source,
        })?;
        listen(&fd, Backlog::new(64).unwrap_or(Backlog::MAXCONN)).map_err(|source| {
            SocketError::Path {
                what: "listen",
                path: path.to_owned(),
                source,
            }
        })?;
        Ok(Listener {
            fd,
            path: path.to_owned(),
        })
    }

    /// Waits (without deadline) for the next connection.
    pub fn accept(&self) -> Result<Conn, SocketError> {
        loop {
            match accept4(self.fd.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
                // SAFETY: accept4 returned a new descriptor that nothing else owns.
                Ok(raw) => return Ok(Conn::from_owned(unsafe { owned(raw) })),
                Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
                Err(source) => {
                    return Err(SocketError::Path {
                        what: "accept",
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        }
    }

    /// The bound path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// # Safety
/// `raw` must be an open descriptor owned by nobody else.
unsafe fn owned(raw: i32) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: the caller hands over sole ownership of `raw`.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// One connected SOCK_SEQPACKET socket.
#[derive(Debug)]
pub struct Conn {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Conn {
    fn from_owned(fd: OwnedFd) -> Conn {
        Conn {
            fd,
            buf: vec![0u8; MAX_PACKET + 1],
        }
    }

    /// Connects to a listening socket at `path`.
    pub fn connect(path: &Path) -> Result<Conn, SocketError> {
        let fd = new_socket()?;
        connect(fd.as_raw_fd(), &addr(path)?).map_err(|source| SocketError::Path {
            what: "connect",
            path: path.to_owned(),
            source,
        })?;
        Ok(Conn::from_owned(fd))
    }

    /// Sends one packet (no SIGPIPE: a closed peer is an EPIPE error).
    pub fn send(&self, packet: &[u8]) -> Result<(), SocketError> {
        loop {
            match send(self.fd.as_raw_fd(), packet, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(source) => {
                    return Err(SocketError::Op {
                        what: "send",
                        source,
                    });
                }
            }
        }
    }

    /// Waits until a packet is readable or the deadline passes; true when readable (or closed).
    pub fn readable_by(&self, deadline: Instant) -> Result<bool, SocketError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = u16::try_from(left.as_millis().min(10_000)).unwrap_or(10_000);
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) if Instant::now() >= deadline => return Ok(false),
                Ok(0) => continue,
                Ok(_) => return Ok(true),
                Err(Errno::EINTR) => continue,
                Err(source) => {
                    return Err(SocketError::Op {
                        what: "poll",
                        source,
                    });
                }
            }
        }
    }

    /// Receives one packet, waiting until `deadline` at most.
    pub fn recv_by(&mut self, deadline: Instant) -> Result<Recv, SocketError> {
        if !self.readable_by(deadline)? {
            return Ok(Recv::Timeout);
        }
        self.recv_now()
    }

    /// Receives one packet, waiting as long as it takes (for the long-running server).
    pub fn recv_blocking(&mut self) -> Result<Recv, SocketError> {
        self.recv_now()
    }

    fn recv_now(&mut self) -> Result<Recv, SocketError> {
        loop {
            match recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()) {
                Ok(0) => return Ok(Recv::Eof),
                Ok(n) if n > MAX_PACKET => return Err(SocketError::TooBig),
                Ok(n) => return Ok(Recv::Packet(self.buf[..n].to_vec())),
                Err(Errno::EINTR) => continue,
                Err(Errno::ECONNRESET) => return Ok(Recv::Eof),
                Err(source) => {
                    return Err(SocketError::Op {
                        what: "recv",
                        source,
                    });
                }
            }
        }
    }

    /// The pid of the process at the other end (SO_PEERCRED, as of connect/accept).
    pub fn peer_pid(&self) -> Result<i32, SocketError> {
        getsockopt(&self.fd, sockopt::PeerCredentials)
            .map(|cred| cred.pid())
            .map_err(|source| SocketError::Op {
                what: "getsockopt(SO_PEERCRED)",
                source,
            })
    }

    /// The descriptor, for poll sets.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
