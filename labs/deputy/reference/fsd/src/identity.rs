//! Who sent this message: the kernel's credentials and a pidfd, per message, not per connection.
//!
//! With SO_PASSCRED and SO_PASSPIDFD set, every recvmsg carries SCM_CREDENTIALS (the sender's
//! uid at send time) and SCM_PIDFD (a descriptor of the sending process itself). The pidfd's
//! inode number names that process for as long as the system runs: PIDs are reused, pidfs
//! inodes are not. Descriptors a client sends (SCM_RIGHTS) are closed at once.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt::PassCred};

/// The sender of one message.
#[derive(Debug)]
pub struct Sender {
    pub uid: u32,
    pub pidfd: OwnedFd,
    /// The pidfs inode of `pidfd`: the process's identity.
    pub ino: u64,
}

/// Ask the kernel to attach credentials and a pidfd to every message on `fd`.
pub fn pass_credentials(fd: &impl std::os::fd::AsFd) -> std::io::Result<()> {
    setsockopt(fd, PassCred, &true)?;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live local.
    let r = unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PASSPIDFD,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// SCM_PIDFD from <linux/socket.h>.
const SCM_PIDFD: libc::c_int = 0x04;

/// Read what is there into `buf`: (bytes read, the sender if the kernel named one).
pub fn recv_from(fd: RawFd, buf: &mut [u8]) -> std::io::Result<(usize, Option<Sender>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!(libc::ucred, RawFd, [RawFd; 8]);
    let msg = recvmsg::<()>(
        fd,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT,
    )?;
    let mut uid = None;
    let mut pidfd = None;
    for c in msg.cmsgs()? {
        match c {
            ControlMessageOwned::ScmCredentials(cred) => uid = Some(cred.uid()),
            ControlMessageOwned::ScmRights(fds) => {
                for f in fds {
                    // SAFETY: the kernel installed these for us; owning them closes them.
                    drop(unsafe { OwnedFd::from_raw_fd(f) });
                }
            }
            ControlMessageOwned::Unknown(u)
                if u.cmsg_header.cmsg_level == libc::SOL_SOCKET
                    && u.cmsg_header.cmsg_type == SCM_PIDFD
                    && u.data_bytes.len() >= 4 =>
            {
                let raw = i32::from_ne_bytes([
                    u.data_bytes[0],
                    u.data_bytes[1],
                    u.data_bytes[2],
                    u.data_bytes[3],
                ]);
                if raw >= 0 {
                    // SAFETY: SCM_PIDFD installed this descriptor for us.
                    pidfd = Some(unsafe { OwnedFd::from_raw_fd(raw) });
                }
            }
            _ => {}
        }
    }
    let sender = match (uid, pidfd) {
        (Some(uid), Some(pidfd)) => {
            let ino = nix::sys::stat::fstat(&pidfd)?.st_ino;
            Some(Sender { uid, pidfd, ino })
        }
        _ => None,
    };
    Ok((msg.bytes, sender))
}
