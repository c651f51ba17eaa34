//! The launcher: starts permd and fsd and connects them with descriptors it made itself.
//!
//! It makes three socket pairs (SOCK_SEQPACKET) before either server exists and hands the ends
//! down by inheritance, at fixed numbers:
//!
//! | fd | permd                       | fsd                          |
//! |----|-----------------------------|------------------------------|
//! | 3  | queries from fsd            | queries to permd             |
//! | 4  | notices to fsd (`FORGET`)   | notices from permd           |
//! | 5  | admin commands from here    | (not given)                  |
//!
//! and sets `DEPUTY_PERMD_FD=3`, `DEPUTY_NOTIFY_FD=4` (both) and `DEPUTY_ADMIN_FD=5` (permd).
//! A server that uses fd 3 talks to the permd this launcher started, whoever holds any path.
//! Admin commands arrive on the launcher's stdin (`revoke <uid>`, `grant <uid>`), become
//! `REVOKE <uid>` / `GRANT <uid>` messages on fd 5, and permd's one-line answer is printed.
//! The launcher never reads files, never answers permission queries itself, and never runs as
//! root on purpose: it runs as the files' owner, like the two servers.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};
use thiserror::Error;

/// How long permd has to answer one admin command.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long each server has to exit after SIGTERM before it gets SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the servers are and what permd is told.
#[derive(Debug, Clone)]
pub struct LaunchConfig {
    pub permd: PathBuf,
    pub fsd: PathBuf,
    /// Passed to permd as `--reader <uid>` each.
    pub readers: Vec<u32>,
    /// Working directory of both servers.
    pub dir: PathBuf,
}

/// Why the launcher stopped with an error.
#[derive(Debug, Error)]
pub enum LaunchError {
    #[error("socketpair: {0}")]
    SocketPair(nix::Error),
    #[error("cannot start {what} ({path}): {source}")]
    Spawn {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Sys(#[from] nix::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd), LaunchError> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(LaunchError::SocketPair)
}

/// Duplicate `fd` to a number >= 10, so that the child's dup2 onto 3, 4, 5 cannot clobber it.
fn high(fd: &OwnedFd) -> Result<OwnedFd, LaunchError> {
    let raw = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(10))?;
    // SAFETY: fcntl just returned a new descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(raw) })
}

fn spawn(
    what: &'static str,
    path: &PathBuf,
    args: &[String],
    dir: &PathBuf,
    fds: Vec<(OwnedFd, RawFd)>,
) -> Result<Child, LaunchError> {
    let mut cmd = Command::new(path);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("DEPUTY_PERMD_FD", "3")
        .env("DEPUTY_NOTIFY_FD", "4");
    if fds.iter().any(|(_, to)| *to == 5) {
        cmd.env("DEPUTY_ADMIN_FD", "5");
    }
    let plan: Vec<(RawFd, RawFd)> = fds.iter().map(|(f, to)| (f.as_raw_fd(), *to)).collect();
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe system
    // calls (dup2, sigprocmask) on descriptors that stay open in the parent until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            for (from, to) in &plan {
                if libc::dup2(*from, *to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|source| LaunchError::Spawn {
        what,
        path: path.display().to_string(),
        source,
    })?;
    drop(fds);
    Ok(child)
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout must not stop the launcher: its children still serve.
    let _ = writeln!(out, "launcher: {line}");
    let _ = out.flush();
}

/// Send one admin command to permd and wait (bounded) for its one-message answer.
fn admin(sock: &OwnedFd, command: &str) -> String {
    if let Err(e) = send(sock.as_raw_fd(), command.as_bytes(), MsgFlags::MSG_NOSIGNAL) {
        return format!("cannot reach permd: {e}");
    }
    let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(ADMIN_TIMEOUT.as_millis()).unwrap_or(u16::MAX);
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(0) => return format!("no answer from permd within {ADMIN_TIMEOUT:?}"),
        Ok(_) => {}
        Err(e) => return format!("poll: {e}"),
    }
    let mut buf = [0u8; 512];
    match recv(sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
        Ok(0) => "permd closed its admin channel".into(),
        Ok(n) => String::from_utf8_lossy(&buf[..n]).trim_end().to_string(),
        Err(e) => format!("recv: {e}"),
    }
}

/// Turn a line typed on stdin into an admin message, or say what is wrong with it.
pub fn admin_command(line: &str) -> Result<String, String> {
    let mut words = line.split_whitespace();
    let (verb, uid) = (words.next(), words.next());
    let wrong =
        || format!("unknown command {line:?}: expected `revoke <uid>` or `grant <uid>` (a number)");
    let uid: u32 = uid.and_then(|u| u.parse().ok()).ok_or_else(wrong)?;
    if words.next().is_some() {
        return Err(wrong());
    }
    match verb {
        Some("revoke") => Ok(format!("REVOKE {uid}\n")),
        Some("grant") => Ok(format!("GRANT {uid}\n")),
        _ => Err(wrong()),
    }
}

fn stop(children: &mut [(&'static str, Child, bool)]) {
    for (_, child, done) in children.iter_mut() {
        if !*done {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                Signal::SIGTERM,
            );
        }
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    for (_, child, done) in children.iter_mut() {
        while !*done {
            if let Ok(Some(_)) = child.try_wait() {
                *done = true;
            } else if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                *done = true;
            } else {
                // Bounded shutdown: check again shortly, at most STOP_TIMEOUT in all.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Run the launcher until SIGTERM/SIGINT, or until both servers have exited.
/// Returns the exit code: 0 after a signal, 1 when both servers ended on their own.
pub fn run(cfg: &LaunchConfig) -> Result<u8, LaunchError> {
    let mut mask = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGCHLD] {
        mask.add(s);
    }
    mask.thread_block()?;
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;

    let (q_permd, q_fsd) = seqpacket_pair()?;
    let (n_permd, n_fsd) = seqpacket_pair()?;
    let (a_permd, a_here) = seqpacket_pair()?;

    let mut permd_args = Vec::new();
    for uid in &cfg.readers {
        permd_args.push("--reader".to_string());
        permd_args.push(uid.to_string());
    }
    let permd = spawn(
        "permd",
        &cfg.permd,
        &permd_args,
        &cfg.dir,
        vec![
            (high(&q_permd)?, 3),
            (high(&n_permd)?, 4),
            (high(&a_permd)?, 5),
        ],
    )?;
    drop((q_permd, n_permd, a_permd));
    let fsd = match spawn(
        "fsd",
        &cfg.fsd,
        &[],
        &cfg.dir,
        vec![(high(&q_fsd)?, 3), (high(&n_fsd)?, 4)],
    ) {
        Ok(c) => c,
        Err(e) => {
            stop(&mut [("permd", permd, false)]);
            return Err(e);
        }
    };
    drop((q_fsd, n_fsd));
    say(&format!(
        "started permd (pid {}) and fsd (pid {})",
        permd.id(),
        fsd.id()
    ));
    let mut children = [("permd", permd, false), ("fsd", fsd, false)];

    let stdin = std::io::stdin();
    let mut stdin_open = true;
    let mut pending = Vec::<u8>::new();
    loop {
        // SAFETY: fd 0 stays open for the whole life of the process.
        let stdin_fd = unsafe { BorrowedFd::borrow_raw(stdin.as_raw_fd()) };
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin_fd, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let stdin_ready = stdin_open
            && fds[1]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP));
        drop(fds);
        while let Ok(Some(info)) = sfd.read_signal() {
            let signo = info.ssi_signo as i32;
            if signo == libc::SIGTERM || signo == libc::SIGINT {
                say("stopping permd and fsd");
                stop(&mut children);
                return Ok(0);
            }
        }
        for (name, child, done) in children.iter_mut() {
            if !*done && let Ok(Some(status)) = child.try_wait() {
                *done = true;
                say(&format!("{name} exited ({status})"));
            }
        }
        if children.iter().all(|(_, _, done)| *done) {
            say("both servers have exited");
            return Ok(1);
        }
        if stdin_ready {
            let mut buf = [0u8; 1024];
            match nix::unistd::read(stdin_fd, &mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
            if pending.len() > 4096 && !pending.contains(&b'\n') {
                say("an admin line longer than 4096 bytes was dropped");
                pending.clear();
            }
            while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line).trim().to_string();
                if line.is_empty() {
                    continue;
                }
                match admin_command(&line) {
                    Ok(msg) => say(&format!("{line}: {}", admin(&a_here, &msg))),
                    Err(why) => say(&why),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::admin_command;

    #[test]
    fn admin_lines() {
        assert_eq!(admin_command("revoke 20002"), Ok("REVOKE 20002\n".into()));
        assert_eq!(admin_command(" grant 7 "), Ok("GRANT 7\n".into()));
        assert!(admin_command("revoke garfield").is_err());
        assert!(admin_command("drop 1").is_err());
        assert!(admin_command("revoke 1 2").is_err());
    }
}
