//! permd, the permissions manager (starter: permissions by PID, found by a well-known path).
//!
//! It listens on ./permd.sock. fsd connects and asks `MAY <pid> read`; permd looks the PID up
//! in /proc, finds the user running it, and answers `YES` when that user is a reader
//! (`--reader <uid>`, given by the launcher) or `NO`. Admin commands (`REVOKE <uid>`,
//! `GRANT <uid>`) arrive from the launcher on fd 5; after each, permd sends `FORGET <uid>` to
//! fsd on fd 4, so that fsd can drop what it cached.
//!
//! This is the design the lab's attacks break (handout: 2 The attacks). Keep the protocol; fix
//! the design (handout: 3 Capabilities).

mod admin;
mod policy;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::process::ExitCode;
use std::time::Duration;

use policy::Policy;

/// The well-known path fsd connects to. TODO (handout: 2.4 The impostor manager): a path
/// anyone can bind first is not a way to know who is answering.
const SOCKET: &str = "permd.sock";

fn main() -> ExitCode {
    let policy = match Policy::from_args(std::env::args().skip(1)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("permd: {e}");
            return ExitCode::from(2);
        }
    };
    admin::spawn(policy.clone());
    let listener = match UnixListener::bind(SOCKET) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("permd: cannot listen on ./{SOCKET}: {e} (is another permd running?)");
            return ExitCode::from(1);
        }
    };
    println!("permd: listening on ./{SOCKET}");
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = conn.set_write_timeout(Some(Duration::from_secs(2)));
        let mut lines = BufReader::new(&conn).take(4096);
        let mut line = String::new();
        while matches!(lines.read_line(&mut line), Ok(n) if n > 0) {
            let answer = answer(&policy, line.trim_end());
            if (&conn).write_all(answer.as_bytes()).is_err() {
                break;
            }
            line.clear();
        }
    }
    ExitCode::SUCCESS
}

/// `MAY <pid> read` -> `YES` / `NO`.
fn answer(policy: &Policy, line: &str) -> String {
    let mut words = line.split(' ');
    let (Some("MAY"), Some(pid), Some("read"), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return "NO malformed query\n".into();
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return "NO malformed pid\n".into();
    };
    // TODO (handout: 2.5 PID reuse): a PID names whoever holds that number *now*.
    match uid_of(pid) {
        Some(uid) if policy.is_reader(uid) => "YES\n".into(),
        _ => "NO\n".into(),
    }
}

/// The effective uid of the process with this PID, from /proc/<pid>/status.
fn uid_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
