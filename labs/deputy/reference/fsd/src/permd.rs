//! Asking permd over the inherited channel: `MAY <uid> read`, answered by `YES` with the
//! litterbox's descriptor attached, or `NO`. Also reads permd's `FORGET <uid>` notices.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recv, recvmsg, sendmsg};

/// What permd said.
#[derive(Debug)]
pub enum Answer {
    Granted(OwnedFd),
    Refused,
}

/// Ask permd about `uid`. Err when permd does not answer within 2 s (nothing is cached then).
pub fn ask(channel: &OwnedFd, uid: u32) -> Result<Answer, String> {
    let q = format!("MAY {uid} read\n");
    sendmsg::<()>(
        channel.as_raw_fd(),
        &[IoSlice::new(q.as_bytes())],
        &[],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| format!("permd is gone: {e}"))?;
    let mut fds = [PollFd::new(channel.as_fd(), PollFlags::POLLIN)];
    if poll(&mut fds, PollTimeout::from(2000u16)).map_err(|e| e.to_string())? == 0 {
        return Err("permd did not answer within 2 s".into());
    }
    let mut buf = [0u8; 256];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        channel.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT,
    )
    .map_err(|e| format!("permd: {e}"))?;
    let mut got: Vec<OwnedFd> = Vec::new();
    for c in msg.cmsgs().map_err(|e| e.to_string())? {
        if let ControlMessageOwned::ScmRights(list) = c {
            for f in list {
                // SAFETY: the kernel installed these for us with this message.
                got.push(unsafe { OwnedFd::from_raw_fd(f) });
            }
        }
    }
    let n = msg.bytes;
    if n == 0 {
        return Err("permd hung up".into());
    }
    let text = String::from_utf8_lossy(&buf[..n]);
    match (text.trim_end(), got.into_iter().next()) {
        ("YES", Some(dir)) => Ok(Answer::Granted(dir)),
        ("YES", None) => Err("permd said YES without a descriptor".into()),
        _ => Ok(Answer::Refused),
    }
}

/// Every `FORGET <uid>` permd has sent so far (non-blocking).
pub fn notices(notify: &OwnedFd) -> Vec<u32> {
    let mut uids = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = recv(notify.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
        if n == 0 {
            break;
        }
        if let Some(uid) = String::from_utf8_lossy(&buf[..n])
            .trim_end()
            .strip_prefix("FORGET ")
            .and_then(|u| u.parse().ok())
        {
            uids.push(uid);
        }
    }
    uids
}
