//! Turning a requested name into an open file inside `./litterbox`.
//!
//! Every open goes through [`open`], which dispatches on [`OpenMode`], so a
//! safer way of resolving names is one new variant and one new function here;
//! nothing else in the crate builds paths. This module must never read the
//! file or print anything: it resolves and opens, and reports the path it
//! tried.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The directory the cat is meant to stay in, relative to the working
/// directory.
pub const LITTERBOX: &str = "./litterbox";

/// How a requested name is resolved against the litterbox.
///
/// Only the lab's deliberately flawed behaviour exists today. Confined modes
/// belong here as further variants, each with its own function called from
/// [`open`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenMode {
    /// Glue the name onto `./litterbox/` and let the kernel follow it.
    /// See [`open_vulnerable`] for the flaw this keeps on purpose.
    #[default]
    Vulnerable,
}

/// A file that was opened, and the path that opened it.
#[derive(Debug)]
pub struct Opened {
    /// The open file, positioned at its start.
    pub file: File,
    /// The path handed to the kernel.
    pub path: PathBuf,
}

/// Why a name could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenFailure {
    /// The kernel refused the path (missing, no permission, not a
    /// directory on the way, ...).
    Io(io::Error),
    /// The path opened, but it is a directory and has no bytes to print.
    IsDirectory,
}

impl fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => error.fmt(f),
            Self::IsDirectory => f.write_str("Is a directory"),
        }
    }
}

/// An [`OpenFailure`] with the path that was tried.
#[derive(Debug)]
pub struct OpenError {
    /// What went wrong.
    pub failure: OpenFailure,
    /// The path handed to the kernel.
    pub path: PathBuf,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.failure, self.path.display())
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            OpenFailure::Io(error) => Some(error),
            OpenFailure::IsDirectory => None,
        }
    }
}

/// The path a name stands for: `./litterbox/` followed by the name's bytes,
/// exactly as given. Also used to show what a refused name would have
/// opened.
pub fn path_in_litterbox(name: &[u8]) -> PathBuf {
    // Plain concatenation, not `Path::join`: join would let `/etc/passwd`
    // replace the prefix entirely, which is a different (and louder) bug than
    // the one this lab teaches.
    let mut bytes = Vec::with_capacity(LITTERBOX.len() + 1 + name.len());
    bytes.extend_from_slice(LITTERBOX.as_bytes());
    bytes.push(b'/');
    bytes.extend_from_slice(name);
    PathBuf::from(OsStr::from_bytes(&bytes))
}

/// Opens `name` for reading the way `mode` says.
///
/// Opening a FIFO blocks until something writes to it; that is left alone on
/// purpose (the cat refuses nothing the kernel allows), and whoever runs the
/// cat under a deadline ends the wait.
pub fn open(mode: OpenMode, name: &str) -> Result<Opened, OpenError> {
    let path = path_in_litterbox(name.as_bytes());
    let opened = match mode {
        OpenMode::Vulnerable => open_vulnerable(&path),
    };
    match opened {
        Ok(file) => Ok(Opened { file, path }),
        Err(failure) => Err(OpenError { failure, path }),
    }
}

/// THE DELIBERATE FLAW: the path is opened as built, so `..` components walk
/// straight out of the litterbox (`../secret.txt` prints the secret, and
/// `../../../../dev/zero` streams forever), and a symlink inside the
/// litterbox is followed wherever it points.
///
/// The lab keeps this bug on purpose. Its lesson is distrustful
/// decomposition: run this same wrong code as the unprivileged user
/// `garfield`, who can read the litterbox but not `secret.txt`, and the
/// kernel refuses the escape even though the code never checks anything.
/// Fixing the code here would hide the very thing students are meant to see.
fn open_vulnerable(path: &Path) -> Result<File, OpenFailure> {
    let file = File::open(path).map_err(OpenFailure::Io)?;
    // Linux lets a directory be opened read-only; say so plainly instead of
    // failing later on the first read. `metadata` asks the open descriptor,
    // so it describes exactly what was opened.
    let is_directory = file.metadata().map_err(OpenFailure::Io)?.is_dir();
    if is_directory {
        return Err(OpenFailure::IsDirectory);
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenates_rather_than_joins() {
        assert_eq!(
            path_in_litterbox(b"/etc/passwd"),
            PathBuf::from("./litterbox//etc/passwd")
        );
        assert_eq!(
            path_in_litterbox(b"../secret.txt"),
            PathBuf::from("./litterbox/../secret.txt")
        );
    }

    #[test]
    fn keeps_non_utf8_bytes() {
        assert_eq!(
            path_in_litterbox(b"caf\xe9").as_os_str().as_bytes(),
            b"./litterbox/caf\xe9"
        );
    }
}
