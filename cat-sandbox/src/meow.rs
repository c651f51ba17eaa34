//! The one-line refusal: `MEOW <reason>: <path tried>`.
//!
//! Test scripts match this line, so it must always be exactly one line:
//! control characters in the path (a newline inside a file name, a NUL) are
//! shown escaped, and this module must never write anything else.

use std::fmt::Display;
use std::io::{self, Write};
use std::path::Path;

/// How many characters of a refused over-long name are shown.
const SHOWN_PREFIX: usize = 64;

/// Writes `MEOW <reason>: <path>` and a newline, first ending the current
/// line if `mid_line` (the file's bytes were cut off without a newline).
pub fn write_meow(
    out: &mut impl Write,
    reason: &dyn Display,
    path: &Path,
    mid_line: bool,
) -> io::Result<()> {
    if mid_line {
        out.write_all(b"\n")?;
    }
    writeln!(out, "MEOW {reason}: {}", shown(path))?;
    out.flush()
}

/// Like [`write_meow`], but shows only the start of the path, for names too
/// long to echo back in full.
pub fn write_meow_shortened(
    out: &mut impl Write,
    reason: &dyn Display,
    path: &Path,
) -> io::Result<()> {
    let full = shown(path);
    let mut short: String = full.chars().take(SHOWN_PREFIX).collect();
    if short.len() < full.len() {
        short.push_str("...");
    }
    writeln!(out, "MEOW {reason}: {short}")?;
    out.flush()
}

/// The path as one line of text: invalid UTF-8 becomes U+FFFD, control
/// characters become escapes such as `\n` or `\0`.
fn shown(path: &Path) -> String {
    let lossy = path.to_string_lossy();
    let mut out = String::with_capacity(lossy.len());
    for c in lossy.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    fn line(path: &[u8], mid_line: bool) -> String {
        let mut out = Vec::new();
        let path = Path::new(OsStr::from_bytes(path));
        write_meow(&mut out, &"Because", path, mid_line).expect("writable output");
        String::from_utf8(out).expect("UTF-8 output")
    }

    #[test]
    fn one_line_whatever_the_name() {
        assert_eq!(
            line(b"./litterbox/a\nb", false),
            "MEOW Because: ./litterbox/a\\nb\n"
        );
        assert_eq!(
            line(b"./litterbox/a\0b", false),
            "MEOW Because: ./litterbox/a\\0b\n"
        );
        assert_eq!(
            line(b"./litterbox/caf\xe9", false),
            "MEOW Because: ./litterbox/caf\u{FFFD}\n"
        );
    }

    #[test]
    fn starts_a_fresh_line_after_cut_off_output() {
        assert_eq!(line(b"x", true), "\nMEOW Because: x\n");
    }

    #[test]
    fn shortens_long_names() {
        let long = format!("./litterbox/{}", "a".repeat(5000));
        let mut out = Vec::new();
        write_meow_shortened(&mut out, &"Too long", Path::new(&long)).expect("writable output");
        let text = String::from_utf8(out).expect("UTF-8 output");
        assert!(text.ends_with("aaa...\n"), "{text}");
        assert!(text.len() < 100, "{text}");
    }
}
