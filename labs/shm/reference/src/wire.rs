//! The messages on the server's socket (SOCK_SEQPACKET, one message per send) and the passing
//! of descriptors with them (SCM_RIGHTS).
//!
//! Formats, all integers little-endian:
//! - `SHMIPC1 HELLO` u32 n, n x i32 client fd numbers; descriptors: the job memfd, then the n fds.
//! - `SHMIPC1 OK`; descriptors: the server's doorbell memfd.
//! - `SHMIPC1 KILL` u32 n.
//! - `SHMIPC1 KILLED` u32 stopped, u32 left.
//! - `SHMIPC1 ERR ` text (why the server said no).
//!
//! It only encodes, decodes, sends and receives; it never decides whether a peer is allowed
//! to do anything.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;

pub const HELLO: &[u8] = b"SHMIPC1 HELLO";
pub const OK: &[u8] = b"SHMIPC1 OK";
pub const KILL: &[u8] = b"SHMIPC1 KILL";
pub const KILLED: &[u8] = b"SHMIPC1 KILLED";
pub const ERR: &[u8] = b"SHMIPC1 ERR ";

/// Most client descriptors one HELLO may carry.
pub const MAX_FDS: usize = 32;
/// Largest message on the socket.
pub const MAX_MESSAGE: usize = 256;

/// One message received, with the descriptors that came with it.
#[derive(Debug)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub fds: Vec<OwnedFd>,
    /// The kernel cut the message or its descriptors (the peer sent more than allowed).
    pub truncated: bool,
}

/// Send `bytes` with `fds` attached, without raising SIGPIPE.
pub fn send(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), Errno> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS + 1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(Errno::TOOBIG);
    }
    let sent = sendmsg(
        sock,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    if sent == bytes.len() {
        Ok(())
    } else {
        Err(Errno::MSGSIZE)
    }
}

/// Receive one message. `Ok(None)`: the peer closed the connection.
pub fn recv(sock: BorrowedFd<'_>, nonblocking: bool) -> Result<Option<Received>, Errno> {
    let mut data = [0u8; MAX_MESSAGE];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS + 1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut flags = RecvFlags::CMSG_CLOEXEC;
    if nonblocking {
        flags |= RecvFlags::DONTWAIT;
    }
    let msg = recvmsg(sock, &mut [IoSliceMut::new(&mut data)], &mut control, flags)?;
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = m {
            fds.extend(rights);
        }
    }
    if msg.bytes == 0 && fds.is_empty() {
        return Ok(None);
    }
    let truncated = msg.flags.contains(rustix::net::ReturnFlags::TRUNC)
        || msg.flags.contains(rustix::net::ReturnFlags::CTRUNC);
    Ok(Some(Received {
        bytes: data[..msg.bytes.min(MAX_MESSAGE)].to_vec(),
        fds,
        truncated,
    }))
}

/// `HELLO` with the client's fd numbers.
pub fn hello(client_fds: &[i32]) -> Vec<u8> {
    let mut m = HELLO.to_vec();
    m.extend_from_slice(&(client_fds.len() as u32).to_le_bytes());
    for fd in client_fds {
        m.extend_from_slice(&fd.to_le_bytes());
    }
    m
}

/// The fd numbers of a `HELLO`, or why it is malformed.
pub fn parse_hello(m: &[u8]) -> Result<Vec<i32>, &'static str> {
    let rest = m.strip_prefix(HELLO).ok_or("not a HELLO")?;
    let (n, rest) = split_u32(rest).ok_or("HELLO without a descriptor count")?;
    let n = n as usize;
    if n > MAX_FDS {
        return Err("HELLO with too many descriptors");
    }
    if rest.len() != 4 * n {
        return Err("HELLO whose length does not match its descriptor count");
    }
    Ok(rest
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub fn kill(n: u32) -> Vec<u8> {
    let mut m = KILL.to_vec();
    m.extend_from_slice(&n.to_le_bytes());
    m
}

pub fn parse_kill(m: &[u8]) -> Option<u32> {
    let (n, rest) = split_u32(m.strip_prefix(KILL)?)?;
    rest.is_empty().then_some(n)
}

pub fn killed(stopped: u32, left: u32) -> Vec<u8> {
    let mut m = KILLED.to_vec();
    m.extend_from_slice(&stopped.to_le_bytes());
    m.extend_from_slice(&left.to_le_bytes());
    m
}

pub fn parse_killed(m: &[u8]) -> Option<(u32, u32)> {
    let (a, rest) = split_u32(m.strip_prefix(KILLED)?)?;
    let (b, rest) = split_u32(rest)?;
    rest.is_empty().then_some((a, b))
}

pub fn err(reason: &str) -> Vec<u8> {
    let mut m = ERR.to_vec();
    m.extend_from_slice(reason.as_bytes());
    m.truncate(MAX_MESSAGE);
    m
}

pub fn parse_err(m: &[u8]) -> Option<String> {
    m.strip_prefix(ERR)
        .map(|r| String::from_utf8_lossy(r).into_owned())
}

fn split_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = b.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*head), rest))
}

/// A borrowed view of each descriptor, for `send`.
pub fn borrow_all(fds: &[OwnedFd]) -> Vec<BorrowedFd<'_>> {
    fds.iter().map(|f| f.as_fd()).collect()
}
