//! Handing a descriptor to another process over a Unix socket (SCM_RIGHTS).
//!
//! The stale-credentials attack uses it to move a connected socket from the files' owner to
//! another user. Received descriptors are owned at once, so none leaks: it sends one descriptor
//! per message and closes any extra ones it is sent.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use thiserror::Error;

/// What went wrong passing a descriptor.
#[derive(Debug, Error)]
pub enum FdPassError {
    #[error("sendmsg with SCM_RIGHTS: {0}")]
    Send(nix::Error),
    #[error("recvmsg: {0}")]
    Recv(nix::Error),
    #[error("the peer closed the socket before sending a descriptor")]
    Closed,
    #[error("the message carried no descriptor")]
    NoDescriptor,
}

/// Send `fd` with one byte of data.
pub fn send_fd(sock: &UnixStream, fd: RawFd) -> Result<(), FdPassError> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(b"F")];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(FdPassError::Send)?;
    Ok(())
}

/// Receive one descriptor (the read timeout of `sock` bounds the wait).
pub fn recv_fd(sock: &UnixStream) -> Result<OwnedFd, FdPassError> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(FdPassError::Recv)?;
    let mut owned: Vec<OwnedFd> = Vec::new();
    for cmsg in msg.cmsgs().map_err(FdPassError::Recv)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            for fd in fds {
                // SAFETY: the kernel just installed `fd` in this process for this message; nothing
                // else owns it.
                owned.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    if msg.bytes == 0 && owned.is_empty() {
        return Err(FdPassError::Closed);
    }
    owned.into_iter().next().ok_or(FdPassError::NoDescriptor)
}
