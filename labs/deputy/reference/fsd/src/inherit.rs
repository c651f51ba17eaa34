//! The descriptors the launcher handed down: fsd trusts no permd it did not inherit.

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

/// Take the socket whose number is in the environment variable `var`, or say why not.
pub fn socket(var: &str) -> Result<OwnedFd, String> {
    let value = std::env::var(var).map_err(|_| {
        format!("{var} is not set: start fsd with deputy-launch, which hands it its sockets")
    })?;
    let fd: i32 = value
        .parse()
        .map_err(|_| format!("{var}={value:?} is not a descriptor number"))?;
    // SAFETY: borrowed only for the fstat; ownership is taken once it is known to be a socket.
    let st = nix::sys::stat::fstat(unsafe { BorrowedFd::borrow_raw(fd) })
        .map_err(|e| format!("{var}={fd}: {e}"))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(format!("{var}={fd} is not a socket"));
    }
    // SAFETY: the launcher passed this descriptor to us and nothing else in fsd owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The permd channel: inherited, and made by a process of our own uid (the launcher).
pub fn permd_channel(var: &str) -> Result<OwnedFd, String> {
    let fd = socket(var)?;
    let peer = nix::sys::socket::getsockopt(&fd, nix::sys::socket::sockopt::PeerCredentials)
        .map_err(|e| format!("{var}: SO_PEERCRED: {e}"))?;
    let me = nix::unistd::geteuid().as_raw();
    if peer.uid() != me {
        return Err(format!(
            "{var}: the other end belongs to uid {}, not to our own uid {me}: not our launcher",
            peer.uid()
        ));
    }
    Ok(fd)
}
