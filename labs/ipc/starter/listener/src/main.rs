//! Part 1 of the IPC lab: the signal listener.
//!
//! When it is finished, it:
//! 1. prints `Listener PID: <its process id>` on a line of its own;
//! 2. sleeps, using no CPU, until a signal arrives;
//! 3. on SIGINT prints `SIGINT received!` and exits with status 1,
//!    on SIGUSR1 prints `SIGUSR1 received!` and exits with status 0.
//!
//! Each TODO names the section of the handout that explains it.

use std::process::ExitCode;

fn main() -> ExitCode {
    // TODO (handout: 1.5 Catch SIGINT), then (handout: 1.7 Exercise: SIGUSR1): set up the signal
    // handling here, before anything is printed, so a signal sent right after the PID line is
    // caught.

    // TODO (handout: 1.2 Print the PID): print `Listener PID: <pid>` instead.
    println!("Hello, world!");

    // TODO (handout: 1.3 Wait without burning CPU): wait here until a signal arrives.

    // TODO (handout: 1.8 Exit codes): say which signal arrived and exit with its status.
    ExitCode::SUCCESS
}
