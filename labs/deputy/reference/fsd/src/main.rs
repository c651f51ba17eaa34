//! fsd, the file service (reference: capabilities and per-message identity).
//!
//! Same socket and protocol as the starter (./fsd.sock, `READ <name>`, `CACHE`), but:
//! - it talks only to the permd its launcher connected it to (fd 3, checked to be our uid's);
//! - it learns who sent each request from that request itself (SCM_CREDENTIALS, SCM_PIDFD);
//! - permd's yes is the litterbox's descriptor, and fsd opens beneath it and nowhere else;
//! - answers are cached per process (pidfd), and forgotten when the process ends or permd
//!   says `FORGET <uid>`; both are applied before every request is served.

mod cache;
mod identity;
mod inherit;
mod open;
mod permd;
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
