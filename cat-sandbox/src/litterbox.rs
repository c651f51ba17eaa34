//! Turning a requested name into an open file inside `./litterbox`.
//!
//! Every open goes through [`open`], which dispatches on [`OpenMode`]: the
//! lab's deliberate flaw ([`OpenMode::Vulnerable`]), a faithful port of the
//! original handout's string check ([`OpenMode::Lexical`], in `lexical.rs`),
//! and an open the kernel confines ([`OpenMode::Beneath`], in `beneath.rs`).
//! Nothing else in the crate builds paths. This module must never read the
//! file or print anything: it resolves and opens, and reports the path it
//! tried.

mod beneath;
mod lexical;

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The directory the cat is meant to stay in, relative to the working
/// directory.
pub const LITTERBOX: &str = "./litterbox";

/// How a requested name is resolved against the litterbox.
///
/// The three modes are Part 2b's experiment: the same input, three ways of
/// keeping it in the litterbox, and a corpus of hostile names that shows
/// which way holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenMode {
    /// Glue the name onto `./litterbox/` and let the kernel follow it.
    /// See `open_vulnerable` in this module for the flaw it keeps on purpose.
    #[default]
    Vulnerable,
    /// The check the original handout suggests in a comment: make the path
    /// absolute, drop `..` on paper, compare strings. Wrong on purpose, in
    /// the same ways as the original; see `litterbox/lexical.rs`.
    Lexical,
    /// Let the kernel keep the open under the litterbox (`openat2` with
    /// `RESOLVE_BENEATH`), and accept regular files only; see `litterbox/beneath.rs`.
    Beneath,
}

impl OpenMode {
    /// Every mode, in the order the lab presents them.
    pub const ALL: [OpenMode; 3] = [OpenMode::Vulnerable, OpenMode::Lexical, OpenMode::Beneath];

    /// The mode's name on the command line (`--mode <name>`).
    pub fn name(self) -> &'static str {
        match self {
            OpenMode::Vulnerable => "vulnerable",
            OpenMode::Lexical => "lexical",
            OpenMode::Beneath => "beneath",
        }
    }
}

impl fmt::Display for OpenMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A mode name that is not one of [`OpenMode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMode(pub String);

impl fmt::Display for UnknownMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown mode `{}` (expected vulnerable, lexical or beneath)",
            self.0
        )
    }
}

impl std::error::Error for UnknownMode {}

impl FromStr for OpenMode {
    type Err = UnknownMode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        OpenMode::ALL
            .into_iter()
            .find(|mode| mode.name() == text)
            .ok_or_else(|| UnknownMode(text.to_owned()))
    }
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
    /// `lexical` mode: the absolute path does not begin with the
    /// litterbox's, so the string check refused it.
    Escaped,
    /// `beneath` mode: resolving the name would leave the litterbox (`..`
    /// above it, an absolute path, a symbolic link pointing out), so the
    /// kernel refused the open (`EXDEV`).
    Outside,
    /// `beneath` mode: the name is a FIFO, a device or a socket. Reading
    /// one could block forever or never end, and none is a file to print.
    NotRegular,
    /// `beneath` mode on a kernel without `openat2` (Linux before 5.6, or a
    /// seccomp filter that hides it). Refusing beats an unconfined open.
    NoConfinement,
}

impl fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(error) => error.fmt(f),
            Self::IsDirectory => f.write_str("Is a directory"),
            Self::Escaped => f.write_str("Sandbox escaped (prefix check)"),
            Self::Outside => f.write_str("Leaves the litterbox (kernel refused)"),
            Self::NotRegular => f.write_str("Not a regular file"),
            Self::NoConfinement => f.write_str(
                "Cannot confine the open: openat2 is unavailable (needs Linux 5.6 or later)",
            ),
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
            _ => None,
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
/// In `vulnerable` and `lexical` mode, opening a FIFO blocks until something
/// writes to it; that is left alone on purpose (those modes refuse nothing
/// the kernel allows), and whoever runs the cat under a deadline ends the
/// wait. `beneath` mode refuses anything but a regular file instead.
pub fn open(mode: OpenMode, name: &str) -> Result<Opened, OpenError> {
    let (opened, path) = match mode {
        OpenMode::Vulnerable => {
            let path = path_in_litterbox(name.as_bytes());
            (open_vulnerable(&path), path)
        }
        OpenMode::Lexical => lexical::open(name),
        // The kernel is handed the name itself, relative to the litterbox;
        // the path shown is what that name means there.
        OpenMode::Beneath => (beneath::open(name), path_in_litterbox(name.as_bytes())),
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
    open_following(path)
}

/// Opens whatever `path` leads to, following every link, and refuses only
/// a directory. Shared by the two modes that trust the kernel's plain open.
fn open_following(path: &Path) -> Result<File, OpenFailure> {
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
    fn modes_round_trip_through_their_names() {
        for mode in OpenMode::ALL {
            assert_eq!(mode.name().parse::<OpenMode>(), Ok(mode));
        }
        assert_eq!(
            "safe".parse::<OpenMode>(),
            Err(UnknownMode("safe".to_owned()))
        );
        assert_eq!(OpenMode::default(), OpenMode::Vulnerable);
    }

    #[test]
    fn keeps_non_utf8_bytes() {
        assert_eq!(
            path_in_litterbox(b"caf\xe9").as_os_str().as_bytes(),
            b"./litterbox/caf\xe9"
        );
    }
}
