//! The admin channel: `REVOKE <uid>` / `GRANT <uid>` from the launcher on fd 5 (a
//! SOCK_SEQPACKET socket, one command per message); `FORGET <uid>` to fsd on fd 4.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::sys::socket::{MsgFlags, recv, send};

use crate::policy::Policy;

/// The descriptor named by an environment variable, if it is set and is a socket.
fn inherited(var: &str) -> Option<OwnedFd> {
    let fd: i32 = std::env::var(var).ok()?.parse().ok()?;
    let st = nix::sys::stat::fstat(
        // SAFETY: only used for the fstat below; ownership is taken after the check.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
    )
    .ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return None;
    }
    // SAFETY: the launcher passed this descriptor to us; nothing else in permd uses it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Start the admin thread (nothing to do when the launcher gave no admin channel).
pub fn spawn(policy: Policy) {
    let Some(admin) = inherited("DEPUTY_ADMIN_FD") else {
        eprintln!("permd: no admin channel (DEPUTY_ADMIN_FD); revocation is off");
        return;
    };
    let notify = inherited("DEPUTY_NOTIFY_FD");
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = recv(admin.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buf[..n]);
            let reply = match text.trim_end().split_once(' ') {
                Some((verb @ ("REVOKE" | "GRANT"), uid)) => match uid.parse::<u32>() {
                    Ok(uid) => {
                        policy.set(uid, verb == "GRANT");
                        if let Some(n) = &notify {
                            let msg = format!("FORGET {uid}\n");
                            let _ = send(n.as_raw_fd(), msg.as_bytes(), MsgFlags::MSG_DONTWAIT);
                        }
                        format!(
                            "OK {} {uid}\n",
                            if verb == "GRANT" {
                                "granted"
                            } else {
                                "revoked"
                            }
                        )
                    }
                    Err(_) => "ERROR the uid must be a number\n".to_string(),
                },
                _ => "ERROR expected REVOKE <uid> or GRANT <uid>\n".to_string(),
            };
            let _ = send(admin.as_raw_fd(), reply.as_bytes(), MsgFlags::MSG_NOSIGNAL);
        }
    });
}
