//! What `deputy-client` does, as functions: one read, two reads around a line on stdin (for
//! the revocation check), and the cache size. Each returns the process exit code: 0 served,
//! 1 refused, 3 no answer. It prints only what fsd sent and one-line summaries; every wait,
//! including the one on stdin, has a deadline.

use std::io::{BufRead, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::client;
use crate::wire::{self, Reply};

/// How long `read_twice` waits for its line on stdin.
pub const STDIN_WAIT: Duration = Duration::from_secs(30);

/// The one-line form of a reply (`OK <n> bytes`, `DENIED ...`, `ERROR ...`, `CACHE <n>`).
pub fn summary(r: &Reply) -> String {
    match r {
        Reply::Ok(b) => format!("OK {} bytes", b.len()),
        Reply::Denied(why) => format!("DENIED {why}"),
        Reply::Error(why) => format!("ERROR {why}"),
        Reply::Cache(n) => format!("CACHE {n}"),
    }
}

fn fail(e: &dyn std::fmt::Display) -> u8 {
    eprintln!("deputy-client: {e}");
    3
}

/// Wait (bounded) until stdin has something to read, or has been closed.
fn stdin_ready(wait: Duration) -> bool {
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// Read `name` once: print the bytes (0), or the refusal line (1).
pub fn read_once(dir: &Path, name: &str, deadline: Instant, out: &mut impl Write) -> u8 {
    match client::read_file(&dir.join(wire::FSD_SOCKET), name, deadline) {
        Ok(Reply::Ok(body)) => {
            let _ = out.write_all(&body);
            0
        }
        Ok(r) => {
            let _ = writeln!(out, "{}", summary(&r));
            1
        }
        Err(e) => fail(&e),
    }
}

/// Read `name`, print `read 1: ...`, wait for a line on stdin, read again from this same
/// process, print `read 2: ...`. The code is the second read's.
pub fn read_twice(dir: &Path, name: &str, deadline: Instant, out: &mut impl Write) -> u8 {
    let socket = dir.join(wire::FSD_SOCKET);
    let mut code = 3;
    for round in 1..=2 {
        if round == 2 {
            let _ = writeln!(out, "client: waiting for a line on stdin");
            let _ = out.flush();
            if !stdin_ready(STDIN_WAIT) {
                return fail(&format!("no line on stdin within {STDIN_WAIT:?}"));
            }
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).is_err() {
                return fail(&"cannot read stdin");
            }
        }
        match client::read_file(&socket, name, deadline + STDIN_WAIT) {
            Ok(r) => {
                let _ = writeln!(out, "read {round}: {}", summary(&r));
                let _ = out.flush();
                code = u8::from(!matches!(r, Reply::Ok(_)));
            }
            Err(e) => return fail(&e),
        }
    }
    code
}

/// Print `CACHE <n>` (0), or what came instead (1).
pub fn cache(dir: &Path, deadline: Instant, out: &mut impl Write) -> u8 {
    let reply = client::connect_until(&dir.join(wire::FSD_SOCKET), deadline)
        .and_then(|s| client::request(&s, wire::CACHE_REQUEST));
    match reply {
        Ok(r) => {
            let _ = writeln!(out, "{}", summary(&r));
            u8::from(!matches!(r, Reply::Cache(_)))
        }
        Err(e) => fail(&e),
    }
}
