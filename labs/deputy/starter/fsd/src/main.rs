//! fsd, the file service (starter: the deputy that asks permd about PIDs).
//!
//! It listens on ./fsd.sock. A client sends `READ <name>`; fsd finds out who the client is from
//! the kernel (SO_PEERCRED: the PID of the process that connected), asks permd `MAY <pid> read`
//! over ./permd.sock, caches the answer per PID, and when the answer is yes reads
//! ./litterbox/<name> and sends `OK <n>` and the bytes. `CACHE` reports how many answers it holds.
//! The protocol is in handout 1.3; the flaws are in handout 2.

mod ask;
mod cache;
mod serve;

use std::process::ExitCode;

fn main() -> ExitCode {
    match serve::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fsd: {e}");
            ExitCode::from(1)
        }
    }
}
