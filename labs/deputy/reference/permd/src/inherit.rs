//! The descriptors the launcher handed down: permd trusts nothing it did not inherit.

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};

/// Take the socket whose number is in the environment variable `var`, or say why not.
pub fn socket(var: &str) -> Result<OwnedFd, String> {
    let value = std::env::var(var).map_err(|_| {
        format!("{var} is not set: start permd with deputy-launch, which hands it its sockets")
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
    // SAFETY: the launcher passed this descriptor to us and nothing else in permd owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
