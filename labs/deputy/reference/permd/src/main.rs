//! permd, the permissions manager (reference: hands out descriptors, reached only by inheritance).
//!
//! It has no socket in the file system. The launcher gives it three SOCK_SEQPACKET sockets:
//! fd 3 carries fsd's queries `MAY <uid> read` (fsd learnt the uid from the kernel, per message);
//! permd answers `YES` with a descriptor of ./litterbox attached (SCM_RIGHTS), the capability
//! fsd must open beneath, or `NO`. fd 5 carries the launcher's `REVOKE <uid>` / `GRANT <uid>`;
//! before answering `OK ...`, permd tells fsd `FORGET <uid>` on fd 4.

mod inherit;
mod policy;

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::ExitCode;

use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessage, MsgFlags, recv, send, sendmsg};
use nix::sys::stat::Mode;
use policy::Policy;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("permd: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let policy = Policy::from_args(std::env::args().skip(1))?;
    let query = inherit::socket("DEPUTY_PERMD_FD")?;
    let notify = inherit::socket("DEPUTY_NOTIFY_FD")?;
    let admin = inherit::socket("DEPUTY_ADMIN_FD")?;
    let litterbox = open(
        "litterbox",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open ./litterbox: {e}"))?;
    println!("permd: serving fsd on fd 3");
    let mut admin_open = true;
    loop {
        let mut fds = vec![PollFd::new(query.as_fd(), PollFlags::POLLIN)];
        if admin_open {
            fds.push(PollFd::new(admin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
            Ok(_) => {}
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (q, a) = (ready(0), ready(1));
        drop(fds);
        if q && !answer_query(&query, &policy, &litterbox) {
            println!("permd: fsd hung up; exiting");
            return Ok(());
        }
        if a && !answer_admin(&admin, &notify, &policy) {
            admin_open = false;
        }
    }
}

/// One query; false when fsd has gone.
fn answer_query(query: &OwnedFd, policy: &Policy, litterbox: &OwnedFd) -> bool {
    let mut buf = [0u8; 256];
    let n = match recv(query.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
        Ok(0) => return false,
        Ok(n) => n,
        Err(nix::errno::Errno::EAGAIN) => return true,
        Err(_) => return false,
    };
    let text = String::from_utf8_lossy(&buf[..n]);
    let mut words = text.trim_end().split(' ');
    let uid = match (words.next(), words.next(), words.next(), words.next()) {
        (Some("MAY"), Some(uid), Some("read"), None) => uid.parse::<u32>().ok(),
        _ => None,
    };
    let sent = match uid {
        Some(uid) if policy.is_reader(uid) => {
            let fds = [litterbox.as_raw_fd()];
            sendmsg::<()>(
                query.as_raw_fd(),
                &[IoSlice::new(b"YES\n")],
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::MSG_NOSIGNAL,
                None,
            )
        }
        Some(_) => send(query.as_raw_fd(), b"NO\n", MsgFlags::MSG_NOSIGNAL),
        None => send(
            query.as_raw_fd(),
            b"NO malformed query\n",
            MsgFlags::MSG_NOSIGNAL,
        ),
    };
    sent.is_ok()
}

/// One admin command; false when the launcher has gone.
fn answer_admin(admin: &OwnedFd, notify: &OwnedFd, policy: &Policy) -> bool {
    let mut buf = [0u8; 256];
    let n = match recv(admin.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
        Ok(0) => return false,
        Ok(n) => n,
        Err(nix::errno::Errno::EAGAIN) => return true,
        Err(_) => return false,
    };
    let text = String::from_utf8_lossy(&buf[..n]);
    let reply = match text.trim_end().split_once(' ') {
        Some((verb @ ("REVOKE" | "GRANT"), uid)) => match uid.parse::<u32>() {
            Ok(uid) => {
                policy.set(uid, verb == "GRANT");
                // fsd must hear this before the admin hears OK (handout: 4.2 Revocation).
                let forget = format!("FORGET {uid}\n");
                match send(
                    notify.as_raw_fd(),
                    forget.as_bytes(),
                    MsgFlags::MSG_NOSIGNAL,
                ) {
                    Ok(_) => {
                        format!(
                            "OK {} {uid}\n",
                            if verb == "GRANT" {
                                "granted"
                            } else {
                                "revoked"
                            }
                        )
                    }
                    Err(e) => format!("ERROR policy changed but fsd was not told: {e}\n"),
                }
            }
            Err(_) => "ERROR the uid must be a number\n".to_string(),
        },
        _ => "ERROR expected REVOKE <uid> or GRANT <uid>\n".to_string(),
    };
    send(admin.as_raw_fd(), reply.as_bytes(), MsgFlags::MSG_NOSIGNAL).is_ok()
}
