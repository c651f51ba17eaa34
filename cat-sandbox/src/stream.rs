//! Copying an opened file to stdout in constant memory.
//!
//! One fixed buffer is reused for the whole copy, so an endless source such
//! as `/dev/zero` streams instead of growing the process. This module must
//! never hold a whole file in memory or decide what an error means for the
//! exit status; it reports what happened and how far it got.

use std::io::{self, ErrorKind, Read, Write};

/// Size of the one reusable copy buffer.
const CHUNK: usize = 64 * 1024;

/// How much was written so far, and whether it ended a line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the file written to the output (the added newline not
    /// counted).
    pub bytes: u64,
    /// Whether the last byte written was `\n`.
    pub ends_line: bool,
}

impl Progress {
    /// True when something was written and the line was left open, so the
    /// next message must start on a new line.
    pub fn mid_line(&self) -> bool {
        self.bytes > 0 && !self.ends_line
    }
}

/// A copy that stopped early.
#[derive(Debug)]
pub enum StreamError {
    /// The file could not be read further; what was written is kept.
    Read {
        /// The read error.
        error: io::Error,
        /// What reached the output before it.
        progress: Progress,
    },
    /// The output refused bytes (including a reader that went away).
    Write(io::Error),
}

/// Copies everything from `source` to `out`, then adds one `\n` if the
/// output was non-empty and did not already end with one (so a file without
/// a final newline still leaves the terminal on a fresh line), then flushes.
pub fn copy_to(mut source: impl Read, out: &mut impl Write) -> Result<Progress, StreamError> {
    let mut buffer = vec![0_u8; CHUNK];
    let mut progress = Progress::default();
    loop {
        let filled = match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(filled) => filled,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(StreamError::Read { error, progress }),
        };
        let chunk = &buffer[..filled];
        out.write_all(chunk).map_err(StreamError::Write)?;
        progress.bytes += filled as u64;
        progress.ends_line = chunk.last() == Some(&b'\n');
    }
    if progress.mid_line() {
        out.write_all(b"\n").map_err(StreamError::Write)?;
    }
    out.flush().map_err(StreamError::Write)?;
    Ok(progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copied(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        copy_to(input, &mut out).expect("writable output");
        out
    }

    #[test]
    fn adds_a_newline_only_when_missing() {
        assert_eq!(copied(b"Treasure found!"), b"Treasure found!\n");
        assert_eq!(copied(b"two\nlines\n"), b"two\nlines\n");
        assert_eq!(copied(b""), b"");
    }

    #[test]
    fn copies_more_than_one_buffer() {
        let big = vec![b'z'; CHUNK * 3 + 7];
        let out = copied(&big);
        assert_eq!(out.len(), big.len() + 1);
    }

    #[test]
    fn a_read_error_keeps_the_progress() {
        struct HalfThenFail(bool);
        impl Read for HalfThenFail {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 {
                    return Err(io::Error::other("disk fell off"));
                }
                self.0 = true;
                buf[..4].copy_from_slice(b"half");
                Ok(4)
            }
        }
        let mut out = Vec::new();
        match copy_to(HalfThenFail(false), &mut out) {
            Err(StreamError::Read { progress, .. }) => {
                assert_eq!(progress.bytes, 4);
                assert!(progress.mid_line());
            }
            other => panic!("expected a read error, got {other:?}"),
        }
        assert_eq!(out, b"half");
    }

    #[test]
    fn a_write_error_stops_the_copy() {
        let mut full: &mut [u8] = &mut [0_u8; 2];
        let result = copy_to(&b"too long"[..], &mut full);
        assert!(matches!(result, Err(StreamError::Write(_))));
    }
}
