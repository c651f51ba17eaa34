//! SOCK_SEQPACKET sockets by path: one packet per send, one per receive, so message boundaries
//! survive. It moves bytes; it never looks inside them.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr, accept4, bind, connect,
    getsockopt, listen, recv, send, socket, sockopt,
};

use crate::wire::MAX_PACKET;

fn seqpacket() -> Result<OwnedFd, Errno> {
    socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
}

/// Binds and listens at `path`, replacing a stale socket file.
pub fn listen_at(path: &Path) -> Result<OwnedFd, String> {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
    let fd = seqpacket().map_err(|e| format!("socket: {e}"))?;
    let addr = UnixAddr::new(path).map_err(|e| format!("{}: {e}", path.display()))?;
    bind(fd.as_raw_fd(), &addr).map_err(|e| format!("bind {}: {e}", path.display()))?;
    listen(&fd, Backlog::new(64).unwrap_or(Backlog::MAXCONN))
        .map_err(|e| format!("listen {}: {e}", path.display()))?;
    Ok(fd)
}

/// Waits for the next client.
pub fn accept(listener: &OwnedFd) -> Result<Conn, Errno> {
    loop {
        match accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 just returned this descriptor; nothing else owns it.
            Ok(raw) => return Ok(Conn::new(unsafe { OwnedFd::from_raw_fd(raw) })),
            Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One connected socket with a receive buffer big enough for the largest packet (plus one byte,
/// so a packet that is too big shows as too big instead of silently cut).
pub struct Conn {
    fd: OwnedFd,
    buf: Vec<u8>,
}

pub enum Got {
    Packet(Vec<u8>),
    Closed,
}

impl Conn {
    fn new(fd: OwnedFd) -> Conn {
        Conn {
            fd,
            buf: vec![0; MAX_PACKET + 1],
        }
    }

    pub fn connect(path: &Path) -> Result<Conn, Errno> {
        let fd = seqpacket()?;
        connect(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
        Ok(Conn::new(fd))
    }

    pub fn send(&self, packet: &[u8]) -> Result<(), Errno> {
        loop {
            match send(self.fd.as_raw_fd(), packet, MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                other => return other.map(drop),
            }
        }
    }

    /// One packet if one is queued, None if none is (never waits). A zero-length read is the
    /// end: the lab's packets always carry a header.
    pub fn try_recv(&mut self) -> Result<Option<Got>, Errno> {
        loop {
            match recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::MSG_DONTWAIT) {
                Ok(0) | Err(Errno::ECONNRESET) => return Ok(Some(Got::Closed)),
                Ok(n) if n > MAX_PACKET => return Err(Errno::EMSGSIZE),
                Ok(n) => return Ok(Some(Got::Packet(self.buf[..n].to_vec()))),
                Err(Errno::EAGAIN) => return Ok(None),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The pid of the peer (SO_PEERCRED).
    pub fn peer_pid(&self) -> Option<i32> {
        getsockopt(&self.fd, sockopt::PeerCredentials)
            .ok()
            .map(|c| c.pid())
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
