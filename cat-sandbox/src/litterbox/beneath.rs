//! Mode `beneath`: the kernel, not a string test, keeps the open inside the
//! litterbox.
//!
//! The litterbox is opened once as a directory handle, and the name is opened
//! relative to it with `openat2(RESOLVE_BENEATH)`: every step of the lookup,
//! links included, must stay under that handle, so `..` above it, an absolute
//! path, or a link pointing out fails with `EXDEV` inside the same system call
//! that opens the file. There is no separate check, hence no window between a
//! check and the open for a swapped link to slip through.
//!
//! The open never blocks (`O_NONBLOCK`), and anything but a regular file is
//! refused after an `fstat` of the opened descriptor, so a FIFO cannot hang
//! the cat and a device cannot stream forever.
//!
//! This module must never fall back to an unconfined open: on a kernel
//! without `openat2` it refuses with [`OpenFailure::NoConfinement`].

use std::fs::File;

use rustix::fs::{Mode, OFlags, ResolveFlags, openat2};
use rustix::io::Errno;

use super::{LITTERBOX, OpenFailure};

/// How often an open is retried when the kernel reports that a rename raced
/// with a `..` step of the lookup (`EAGAIN`): it cannot then prove the walk
/// stayed beneath, and asks the caller to try again. An attacker renaming in
/// a loop could keep that up, so the retries are bounded; running out is a
/// refusal, never an escape.
const RETRIES_AFTER_RENAME: usize = 256;

/// Opens `name` under the litterbox, confined by the kernel.
pub(super) fn open(name: &str) -> Result<File, OpenFailure> {
    // O_PATH: the handle only anchors lookups; no read access to the
    // directory itself is needed.
    let litterbox = rustix::fs::open(
        LITTERBOX,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_failure)?;
    // NONBLOCK makes opening a FIFO return at once instead of waiting for a
    // writer; on the regular files that pass the check below it changes
    // nothing. NOCTTY keeps a terminal device from becoming ours.
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    // NO_MAGICLINKS: `/proc/self/fd/N`-style links could jump anywhere;
    // BENEATH refuses them already, this says so explicitly.
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let mut retries = 0;
    let descriptor = loop {
        match openat2(&litterbox, name, flags, Mode::empty(), resolve) {
            Ok(descriptor) => break descriptor,
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) if retries < RETRIES_AFTER_RENAME => retries += 1,
            Err(Errno::XDEV) => return Err(OpenFailure::Outside),
            Err(Errno::NOSYS) => return Err(OpenFailure::NoConfinement),
            Err(errno) => return Err(io_failure(errno)),
        }
    };
    let file = File::from(descriptor);
    // fstat of the descriptor: describes what was opened, not whatever the
    // name points to by now.
    let kind = file.metadata().map_err(OpenFailure::Io)?.file_type();
    if kind.is_dir() {
        return Err(OpenFailure::IsDirectory);
    }
    if !kind.is_file() {
        return Err(OpenFailure::NotRegular);
    }
    Ok(file)
}

fn io_failure(errno: Errno) -> OpenFailure {
    OpenFailure::Io(errno.into())
}
