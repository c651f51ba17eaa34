//! `proxy`: sits between the lab's key-value clients and server and forwards every message.
//! Parts 1 to 3 of the handout add the log, the policy and the faults.

// Parts of wire.rs and sock.rs are for the parts you write (the log, ERROR replies, the kill
// fault); until then they are unused.
#![allow(dead_code)]

mod args;
mod relay;
mod sock;
mod wire;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("proxy: {message}\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    match relay::serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("proxy: {message}");
            ExitCode::from(1)
        }
    }
}
