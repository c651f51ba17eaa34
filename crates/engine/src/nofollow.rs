//! Opening a file of a submission (or of a tree student code wrote) as root without trusting it:
//! one `open` with `O_NOFOLLOW | O_NONBLOCK`, then `fstat` on the descriptor must say "regular
//! file", and never more than a cap is read. A link to a root-only file, a FIFO nobody writes, or
//! a link to `/dev/zero` is refused instead of read, waited on, or read without end.
//!
//! Never opens by a path whose last component may be a link, never reads past the cap.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens `path` for reading if it is a regular file (not through a link, never blocking on a
/// FIFO or device); returns it with its metadata from the descriptor.
pub fn open_regular(path: &Path) -> io::Result<(File, fs::Metadata)> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok((file, meta))
}

/// Reads a regular file (see [`open_regular`]) of at most `cap` bytes; a larger one is an error.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let (file, meta) = open_regular(path)?;
    if meta.len() > cap {
        return Err(too_large(path, cap));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(path, cap));
    }
    Ok(bytes)
}

/// Copies the regular file `from` (see [`open_regular`]) to a new file `to`, at most `cap`
/// bytes (a larger or growing one is an error); returns the bytes copied.
pub fn copy_capped(from: &Path, to: &Path, cap: u64) -> io::Result<u64> {
    let (file, meta) = open_regular(from)?;
    if meta.len() > cap {
        return Err(too_large(from, cap));
    }
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(to)?;
    let copied = io::copy(&mut file.take(cap + 1), &mut out)?;
    if copied > cap {
        return Err(too_large(from, cap));
    }
    out.flush()?;
    Ok(copied)
}

fn too_large(path: &Path, cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("{} is larger than {cap} bytes", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fifos_and_devices_are_refused_and_the_cap_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::write(d.join("plain"), "a\nb\n").expect("write");
        std::os::unix::fs::symlink("/dev/zero", d.join("zero")).expect("link");
        std::os::unix::fs::symlink("plain", d.join("link")).expect("link");
        nix::unistd::mkfifo(
            &d.join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .expect("mkfifo");
        assert_eq!(read_capped(&d.join("plain"), 100).expect("read"), b"a\nb\n");
        assert!(read_capped(&d.join("plain"), 2).is_err(), "over the cap");
        assert!(
            read_capped(&d.join("zero"), 100).is_err(),
            "a link to a device"
        );
        assert!(
            read_capped(&d.join("link"), 100).is_err(),
            "a link to a file"
        );
        assert!(
            read_capped(&d.join("fifo"), 100).is_err(),
            "a FIFO, at once"
        );
        assert!(
            read_capped(Path::new("/dev/zero"), 100).is_err(),
            "a device"
        );
        assert_eq!(
            copy_capped(&d.join("plain"), &d.join("copy"), 100).expect("copy"),
            4
        );
        assert!(copy_capped(&d.join("zero"), &d.join("copy2"), 100).is_err());
    }
}
