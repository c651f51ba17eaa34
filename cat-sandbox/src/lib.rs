//! The lab's deliberately vulnerable `cat`: it reads a file name from stdin
//! and prints `./litterbox/<name>`, or one `MEOW <reason>: <path>` line.
//!
//! By default the path is built by plain concatenation, so `../secret.txt`
//! escapes the litterbox (see [`litterbox`] for why the lab keeps that flaw).
//! Part 2b adds two more ways to resolve the name, chosen with
//! [`litterbox::OpenMode`]: the original handout's string check, ported with
//! its flaws, and an open the kernel confines. Everything else is meant to
//! be solid in every mode: bounded input ([`input`]), constant-memory output
//! ([`stream`]), exactly one refusal line ([`meow`]), no panics, and a
//! reader that hangs up is not an error. In the default mode this crate must
//! never refuse a name on its own judgement beyond those rules: the escape
//! is the lesson.

pub mod input;
pub mod litterbox;
pub mod meow;
pub mod stream;

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};

use litterbox::OpenMode;
use stream::StreamError;

/// How a run ended. All of these are normal lab outcomes (exit status 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The file was printed in full.
    Printed {
        /// Bytes of the file written (not counting an added newline).
        bytes: u64,
    },
    /// A `MEOW` line was printed instead of (or after part of) the file.
    Meowed,
    /// Whoever read our stdout closed it; we stopped quietly.
    ReaderGone,
}

/// Stdout failed for a reason other than the reader hanging up (a full
/// disk, a closed descriptor). Nothing more can be said on stdout.
#[derive(Debug)]
pub struct OutputError(io::Error);

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write to stdout: {}", self.0)
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Runs the cat once: reads the name from `stdin`, resolves it with `mode`,
/// and writes the file or a `MEOW` line to `out`.
///
/// Lab outcomes, refusals included, are `Ok`; only an output that cannot be
/// written is an error, and a closed pipe is [`Outcome::ReaderGone`].
pub fn run(stdin: impl Read, out: &mut impl Write, mode: OpenMode) -> Result<Outcome, OutputError> {
    match serve(stdin, out, mode) {
        Ok(outcome) => Ok(outcome),
        Err(error) if error.kind() == ErrorKind::BrokenPipe => Ok(Outcome::ReaderGone),
        Err(error) => Err(OutputError(error)),
    }
}

/// The run itself; any `Err` here is an output failure.
fn serve(stdin: impl Read, out: &mut impl Write, mode: OpenMode) -> io::Result<Outcome> {
    let name = match input::read_name(stdin) {
        Ok(name) => name,
        Err(refused) => {
            let path = litterbox::path_in_litterbox(refused.raw_name());
            if matches!(refused.problem(), input::NameProblem::TooLong) {
                meow::write_meow_shortened(out, &refused, &path)?;
            } else {
                meow::write_meow(out, &refused, &path, false)?;
            }
            return Ok(Outcome::Meowed);
        }
    };
    match litterbox::open(mode, &name) {
        Ok(opened) => print_file(opened.file, &opened.path, out),
        Err(refused) => {
            meow::write_meow(out, &refused.failure, &refused.path, false)?;
            Ok(Outcome::Meowed)
        }
    }
}

/// Streams an opened file; a read error part-way turns into a `MEOW` line
/// on a line of its own.
fn print_file(
    file: impl Read,
    path: &std::path::Path,
    out: &mut impl Write,
) -> io::Result<Outcome> {
    match stream::copy_to(file, out) {
        Ok(progress) => Ok(Outcome::Printed {
            bytes: progress.bytes,
        }),
        Err(StreamError::Read { error, progress }) => {
            meow::write_meow(out, &error, path, progress.mid_line())?;
            Ok(Outcome::Meowed)
        }
        Err(StreamError::Write(error)) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Gives some bytes, then fails like a disk error would.
    struct FailsAfter(&'static [u8]);

    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("Input/output error"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_mid_stream_error_gets_its_own_line() {
        let mut out = Vec::new();
        let outcome = print_file(FailsAfter(b"partial"), Path::new("./litterbox/f"), &mut out);
        assert_eq!(outcome.expect("writable output"), Outcome::Meowed);
        assert_eq!(
            String::from_utf8(out).expect("UTF-8 output"),
            "partial\nMEOW Input/output error: ./litterbox/f\n"
        );
    }

    #[test]
    fn no_blank_line_when_output_already_ended_one() {
        let mut out = Vec::new();
        print_file(FailsAfter(b"whole line\n"), Path::new("f"), &mut out).expect("writable output");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8 output"),
            "whole line\nMEOW Input/output error: f\n"
        );
    }

    #[test]
    fn a_closed_pipe_is_a_quiet_outcome() {
        struct Hungup;
        impl Write for Hungup {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let outcome = run(&b"\n"[..], &mut Hungup, OpenMode::Vulnerable).expect("a quiet outcome");
        assert_eq!(outcome, Outcome::ReaderGone);
    }
}
