//! `proxy`: sits between the lab's key-value clients and server, forwards every message, logs
//! each one, learns or enforces a policy, and injects the faults of a plan.

mod args;
mod faults;
mod log;
mod policy;
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
