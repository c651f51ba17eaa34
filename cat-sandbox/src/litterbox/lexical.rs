//! Mode `lexical`: the "secure way" the original handout leaves in a
//! comment, ported to Rust as faithfully as possible, flaws included.
//!
//! The original builds `./litterbox/<name>`, makes it absolute with Python's
//! `os.path.abspath` (join the working directory, then drop `.` and `..` on
//! paper with `normpath`), and accepts the result if it *starts with* the
//! absolute litterbox path as a string. `abspath` also drops the trailing
//! slash of `./litterbox/`, so the prefix is `/…/litterbox`, not
//! `/…/litterbox/`. What that check misses, and Part 2b measures:
//!
//! - a sibling directory whose name begins with `litterbox`
//!   (`../litterbox_evil/x` passes the string test);
//! - a symbolic link inside the litterbox pointing out: the check never looks
//!   at the file system, and the open follows the link;
//! - a link swapped between the check and the open: the same, in a race.
//!
//! This module must stay exactly that wrong. Fixing it here would erase the
//! measurement that motivates [`super::beneath`].

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{OpenFailure, open_following, path_in_litterbox};

/// Checks `name` the way the handout's comment does, then opens it. Returns
/// the absolute path that was checked (and, if it passed, opened).
pub(super) fn open(name: &str) -> (Result<File, OpenFailure>, PathBuf) {
    let requested = path_in_litterbox(name.as_bytes());
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => return (Err(OpenFailure::Io(error)), requested),
    };
    let checked = absolute(&cwd, requested.as_os_str().as_bytes());
    let litterbox = absolute(&cwd, b"./litterbox/");
    let path = PathBuf::from(OsStr::from_bytes(&checked));
    // A string comparison, as in the original: `/lab/litterbox_evil/x`
    // begins with `/lab/litterbox` too.
    if !checked.starts_with(&litterbox) {
        return (Err(OpenFailure::Escaped), path);
    }
    (open_following(&path), path)
}

/// Python's `os.path.abspath` on POSIX: `path` joined to `cwd` unless it is
/// absolute already, then [`normalise`]d. No file is looked at.
fn absolute(cwd: &Path, path: &[u8]) -> Vec<u8> {
    if path.starts_with(b"/") {
        return normalise(path);
    }
    let mut joined = cwd.as_os_str().as_bytes().to_vec();
    if !joined.ends_with(b"/") {
        joined.push(b'/');
    }
    joined.extend_from_slice(path);
    normalise(&joined)
}

/// Python's `os.path.normpath` on POSIX, byte for byte: empty and `.`
/// components vanish, `..` removes the component before it (and nothing at
/// the root), and exactly two leading slashes are kept as two (POSIX leaves
/// their meaning to the system). Symbolic links are not consulted: that is
/// the point.
fn normalise(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let leading = if path.starts_with(b"//") && !path.starts_with(b"///") {
        2
    } else if path.starts_with(b"/") {
        1
    } else {
        0
    };
    let mut kept: Vec<&[u8]> = Vec::new();
    for component in path.split(|&byte| byte == b'/') {
        match component {
            b"" | b"." => {}
            b".." if leading > 0 && kept.is_empty() => {}
            b".." if kept.last().is_some_and(|last| *last != b"..") => {
                kept.pop();
            }
            _ => kept.push(component),
        }
    }
    let mut out = vec![b'/'; leading];
    out.extend_from_slice(&kept.join(&b'/'));
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(path: &str) -> String {
        String::from_utf8(normalise(path.as_bytes())).expect("UTF-8")
    }

    #[test]
    fn normalises_like_python() {
        // Expected values taken from CPython's posixpath.normpath.
        assert_eq!(norm(""), ".");
        assert_eq!(norm("/"), "/");
        assert_eq!(norm("//"), "//");
        assert_eq!(norm("///"), "/");
        assert_eq!(norm("///a//b/"), "/a/b");
        assert_eq!(norm("//a/../b"), "//b");
        assert_eq!(norm("/../.."), "/");
        assert_eq!(norm("../a/../.."), "../..");
        assert_eq!(norm("a/./b/../../c"), "c");
        assert_eq!(norm("a/.."), ".");
        assert_eq!(norm("/lab/litterbox/../secret.txt"), "/lab/secret.txt");
    }

    #[test]
    fn absolute_drops_the_trailing_slash_of_the_prefix() {
        let cwd = Path::new("/lab");
        assert_eq!(absolute(cwd, b"./litterbox/"), b"/lab/litterbox");
        assert_eq!(
            absolute(cwd, b"./litterbox/../litterbox_evil/x"),
            b"/lab/litterbox_evil/x"
        );
        assert_eq!(absolute(cwd, b"/etc/passwd"), b"/etc/passwd");
    }

    #[test]
    fn the_prefix_check_is_fooled_by_a_sibling() {
        let cwd = Path::new("/lab");
        let prefix = absolute(cwd, b"./litterbox/");
        let sibling = absolute(cwd, b"./litterbox/../litterbox_evil/x");
        let parent = absolute(cwd, b"./litterbox/../secret.txt");
        assert!(sibling.starts_with(&prefix), "the flaw Part 2b measures");
        assert!(!parent.starts_with(&prefix));
    }
}
