//! Reference answer for Part 1 of the IPC lab: a process that waits for a
//! signal and turns it into a message and an exit code.
//!
//! The listener installs its signal handling, announces its process id,
//! sleeps until SIGINT or SIGUSR1 arrives, reports which one it was, and
//! ends with that signal's exit code. Every other signal is left as the
//! process found it, so SIGTERM still terminates it. (Rust's runtime already
//! ignores SIGPIPE before `main`; [`write_line`] deals with the result.)
//!
//! What this module must never do:
//! - print its PID before the handlers exist (a tester that signals as soon
//!   as it reads the PID line would kill the process instead of talking to it);
//! - burn CPU while waiting (no polling loops: it blocks in the kernel);
//! - run output code inside a raw signal handler (see [`run`] for why).

use std::error::Error;
use std::fmt;
use std::io::{self, Write};
use std::process;

use signal_hook::consts::{SIGINT, SIGUSR1};
use signal_hook::iterator::Signals;

/// Exit code after SIGUSR1: the "everything went fine" signal.
pub const EXIT_SIGUSR1: u8 = 0;
/// Exit code after SIGINT: the run was interrupted.
pub const EXIT_SIGINT: u8 = 1;
/// Exit code when the listener could not set itself up or write its output.
/// clap uses the same code for command-line usage errors.
pub const EXIT_SETUP_ERROR: u8 = 2;

/// What the listener says and how it exits after receiving a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The line printed to stdout (without the newline).
    pub message: &'static str,
    /// The process exit code.
    pub exit_code: u8,
}

/// Maps a signal number to the listener's reaction, or `None` for a signal
/// the listener does not handle.
///
/// Kept free of any I/O so the lab's rules can be unit-tested directly.
pub fn outcome_for(signal: i32) -> Option<Outcome> {
    match signal {
        SIGINT => Some(Outcome {
            message: "SIGINT received!",
            exit_code: EXIT_SIGINT,
        }),
        SIGUSR1 => Some(Outcome {
            message: "SIGUSR1 received!",
            exit_code: EXIT_SIGUSR1,
        }),
        _ => None,
    }
}

/// The first line the listener prints, which testers wait for.
pub fn pid_line(pid: u32) -> String {
    format!("Listener PID: {pid}")
}

/// Why the listener could not do its job.
#[derive(Debug)]
pub enum ListenerError {
    /// The signal handlers could not be installed.
    InstallHandlers(io::Error),
    /// A line could not be written to the output.
    Output(io::Error),
    /// The signal stream ended before any signal arrived. It is never closed
    /// here, so this means a bug rather than a user mistake.
    SignalsClosed,
}

impl fmt::Display for ListenerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InstallHandlers(err) => write!(f, "could not install signal handlers: {err}"),
            Self::Output(err) => write!(f, "could not write to stdout: {err}"),
            Self::SignalsClosed => f.write_str("signal stream closed before any signal arrived"),
        }
    }
}

impl Error for ListenerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::InstallHandlers(err) | Self::Output(err) => Some(err),
            Self::SignalsClosed => None,
        }
    }
}

/// Runs the listener, writing its lines to `out`, and returns the outcome of
/// the first handled signal (the caller turns it into the exit code).
///
/// # Why nothing is printed inside a signal handler
///
/// A signal handler interrupts the program at an arbitrary instruction,
/// possibly in the middle of `malloc` or while stdout's lock is held. Only a
/// short list of "async-signal-safe" functions (such as `write(2)` on a raw
/// file descriptor) may be called there; printing through a buffered,
/// locked stream can deadlock or corrupt memory. signal-hook's handler does
/// the bare minimum: it records the signal and wakes a socket. [`Signals`]
/// reads that socket from ordinary code, where printing is safe.
///
/// # Order matters
///
/// The handlers are installed *before* the PID line is written. Until then a
/// signal would take its default action (SIGUSR1 and SIGINT both terminate
/// the process), so anyone who reads the PID line may signal at once.
pub fn run(mut out: impl Write) -> Result<Outcome, ListenerError> {
    let mut signals = Signals::new([SIGINT, SIGUSR1]).map_err(ListenerError::InstallHandlers)?;

    write_line(&mut out, &pid_line(process::id()))?;

    // `forever` blocks in a read on signal-hook's socket: the process sleeps
    // in the kernel and uses no CPU until a signal arrives. Only SIGINT and
    // SIGUSR1 are registered, and we stop at the first one.
    let outcome = signals
        .forever()
        .find_map(outcome_for)
        .ok_or(ListenerError::SignalsClosed)?;

    write_line(&mut out, outcome.message)?;
    Ok(outcome)
}

/// Writes one line and flushes it straight away.
///
/// The flush makes each line visible to a reader while the process still
/// runs, whatever buffering `out` uses. Rust's own stdout happens to flush
/// at every newline, but `run` accepts any writer, and C's stdout, for
/// comparison, holds output back until exit when it is a pipe or a file.
///
/// A broken pipe means the reader has gone away. That is not worth failing
/// over: the exit code still carries the result. (Rust ignores SIGPIPE, so a
/// closed pipe shows up here as an error instead of killing the process.)
pub fn write_line(out: &mut impl Write, line: &str) -> Result<(), ListenerError> {
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Err(err) if err.kind() != io::ErrorKind::BrokenPipe => Err(ListenerError::Output(err)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigusr1_means_success() {
        let outcome = outcome_for(SIGUSR1).expect("SIGUSR1 is handled");
        assert_eq!(outcome.message, "SIGUSR1 received!");
        assert_eq!(outcome.exit_code, 0);
    }

    #[test]
    fn sigint_means_exit_code_one() {
        let outcome = outcome_for(SIGINT).expect("SIGINT is handled");
        assert_eq!(outcome.message, "SIGINT received!");
        assert_eq!(outcome.exit_code, 1);
    }

    #[test]
    fn other_signals_are_not_handled() {
        for signal in [
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGUSR2,
            0,
            -1,
        ] {
            assert_eq!(outcome_for(signal), None, "signal {signal}");
        }
    }

    #[test]
    fn pid_line_has_the_lab_format() {
        assert_eq!(pid_line(82), "Listener PID: 82");
    }

    /// A writer that fails every call with the given error kind.
    struct FailingWriter(io::ErrorKind);

    impl Write for FailingWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(self.0.into())
        }
    }

    #[test]
    fn write_line_adds_a_newline() {
        let mut out = Vec::new();
        write_line(&mut out, "hello").expect("writing to a Vec succeeds");
        assert_eq!(out, b"hello\n");
    }

    #[test]
    fn broken_pipe_is_not_an_error() {
        let mut out = FailingWriter(io::ErrorKind::BrokenPipe);
        assert!(write_line(&mut out, "nobody is listening").is_ok());
    }

    #[test]
    fn other_write_errors_are_reported() {
        let mut out = FailingWriter(io::ErrorKind::StorageFull);
        let err = write_line(&mut out, "disk is full").expect_err("must fail");
        assert!(matches!(err, ListenerError::Output(_)));
        assert!(err.to_string().starts_with("could not write to stdout"));
    }
}
