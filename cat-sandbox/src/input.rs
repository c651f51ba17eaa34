//! Reading the requested file name from stdin.
//!
//! The name arrives on stdin (not as an argument) and ends at end of input, so
//! `echo treasure.txt | cat-sandbox` works. This module must never hold more
//! than [`NAME_LIMIT`] + 1 bytes of stdin: a sender that streams a gigabyte
//! gets a refusal after 4097 bytes, and the rest is left unread in the pipe.
//! It does not decide where the name points; that is the litterbox's job.

use std::fmt;
use std::io::{self, Read};

/// The most bytes stdin may hold, trailing newline included: Linux's
/// `PATH_MAX`. Nothing longer can name a file, so reading further only costs
/// memory.
pub const NAME_LIMIT: usize = 4096;

/// What was wrong with the text on stdin.
#[derive(Debug)]
#[non_exhaustive]
pub enum NameProblem {
    /// Stdin held more than [`NAME_LIMIT`] bytes; reading stopped there.
    TooLong,
    /// Nothing but whitespace (or nothing at all) arrived.
    Empty,
    /// A NUL byte, which no path can contain.
    ContainsNul,
    /// Bytes that are not UTF-8. Linux would accept them, but the lab's cat
    /// works with text names only.
    NotUtf8,
    /// Stdin itself failed (closed descriptor, a directory, ...).
    Unreadable(io::Error),
}

/// A name that cannot be looked up, together with the bytes that were read
/// so the refusal can show what was asked for.
#[derive(Debug)]
pub struct NameError {
    problem: NameProblem,
    raw: Vec<u8>,
}

impl NameError {
    /// Which rule the input broke.
    pub fn problem(&self) -> &NameProblem {
        &self.problem
    }

    /// The bytes read, trimmed like a good name would have been. For
    /// [`NameProblem::TooLong`] this is only the first bytes of the input.
    pub fn raw_name(&self) -> &[u8] {
        &self.raw
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            NameProblem::TooLong => write!(
                f,
                "Name longer than {NAME_LIMIT} bytes (PATH_MAX); stopped reading stdin"
            ),
            NameProblem::Empty => f.write_str("Empty file name"),
            NameProblem::ContainsNul => f.write_str("File name contains a NUL byte"),
            NameProblem::NotUtf8 => {
                f.write_str("File name is not valid UTF-8 (bad bytes shown as U+FFFD)")
            }
            NameProblem::Unreadable(error) => {
                write!(f, "Could not read the file name from stdin ({error})")
            }
        }
    }
}

impl std::error::Error for NameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            NameProblem::Unreadable(error) => Some(error),
            _ => None,
        }
    }
}

/// Reads one file name: everything on stdin up to end of input, with
/// surrounding ASCII whitespace removed (the newline `echo` adds, a CR from a
/// Windows editor). A name can therefore not begin or end with a space.
///
/// Reads at most [`NAME_LIMIT`] + 1 bytes whatever the sender offers. Like
/// the lab's original it waits for end of input, so a terminal user ends the
/// name with Ctrl-D.
pub fn read_name(reader: impl Read) -> Result<String, NameError> {
    let mut raw = Vec::with_capacity(NAME_LIMIT + 1);
    // One byte past the limit is enough to know the input is too long; the
    // `take` is what keeps a flood from ever reaching memory.
    if let Err(error) = reader.take(NAME_LIMIT as u64 + 1).read_to_end(&mut raw) {
        return Err(NameError {
            problem: NameProblem::Unreadable(error),
            raw,
        });
    }
    if raw.len() > NAME_LIMIT {
        return Err(NameError {
            problem: NameProblem::TooLong,
            raw,
        });
    }
    let trimmed = raw.trim_ascii();
    let problem = if trimmed.is_empty() {
        NameProblem::Empty
    } else if trimmed.contains(&0) {
        NameProblem::ContainsNul
    } else {
        match std::str::from_utf8(trimmed) {
            Ok(name) => return Ok(name.to_owned()),
            Err(_) => NameProblem::NotUtf8,
        }
    };
    Err(NameError {
        problem,
        raw: trimmed.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem_of(input: &[u8]) -> NameProblem {
        match read_name(input) {
            Ok(name) => panic!("expected a refusal, got name {name:?}"),
            Err(error) => error.problem,
        }
    }

    #[test]
    fn trims_the_newline_echo_adds() {
        assert_eq!(
            read_name(&b"treasure.txt\n"[..]).expect("a valid name"),
            "treasure.txt"
        );
        assert_eq!(
            read_name(&b" \t../secret.txt\r\n"[..]).expect("a valid name"),
            "../secret.txt"
        );
    }

    #[test]
    fn keeps_inner_whitespace() {
        assert_eq!(
            read_name(&b"my file.txt\n"[..]).expect("a valid name"),
            "my file.txt"
        );
    }

    #[test]
    fn limit_counts_the_newline() {
        let mut fits = vec![b'a'; NAME_LIMIT - 1];
        fits.push(b'\n');
        assert_eq!(
            read_name(&fits[..]).expect("a valid name").len(),
            NAME_LIMIT - 1
        );

        let mut over = vec![b'a'; NAME_LIMIT];
        over.push(b'\n');
        assert!(matches!(problem_of(&over), NameProblem::TooLong));
    }

    #[test]
    fn stops_reading_one_byte_past_the_limit() {
        let mut endless = io::repeat(b'x');
        let error = read_name(&mut endless).expect_err("a refusal");
        assert!(matches!(error.problem(), NameProblem::TooLong));
        assert_eq!(error.raw_name().len(), NAME_LIMIT + 1);
    }

    #[test]
    fn names_each_problem() {
        assert!(matches!(problem_of(b""), NameProblem::Empty));
        assert!(matches!(problem_of(b"  \n"), NameProblem::Empty));
        assert!(matches!(problem_of(b"a\0b\n"), NameProblem::ContainsNul));
        assert!(matches!(problem_of(b"caf\xe9\n"), NameProblem::NotUtf8));
    }

    #[test]
    fn a_failing_stdin_is_reported_not_panicked() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("wire cut"))
            }
        }
        let error = read_name(Broken).expect_err("a refusal");
        assert!(matches!(error.problem(), NameProblem::Unreadable(_)));
        assert!(error.to_string().contains("wire cut"));
    }
}
