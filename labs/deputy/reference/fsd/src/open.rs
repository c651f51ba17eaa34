//! Opening a client's file with the granted capability only: beneath the litterbox descriptor
//! permd handed out, never by a path from fsd's own working directory.

use std::io::Read;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};

/// The largest file fsd sends.
const MAX_FILE: u64 = 1 << 20;

/// Why a file was not sent.
#[derive(Debug)]
pub enum Refusal {
    /// Outside the grant: a `DENIED`.
    Outside(String),
    /// Inside, but it could not be read: an `ERROR`.
    Failed(String),
}

pub fn read_beneath(dir: &OwnedFd, name: &str) -> Result<Vec<u8>, Refusal> {
    // O_NONBLOCK: a FIFO planted in the litterbox must not hang fsd on open.
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = match openat2(dir, name, how) {
        Ok(fd) => fd,
        Err(Errno::EXDEV) => {
            return Err(Refusal::Outside(format!("{name} is outside the litterbox")));
        }
        Err(e) => {
            return Err(Refusal::Failed(format!(
                "{}: {name}",
                std::io::Error::from(e)
            )));
        }
    };
    let file = std::fs::File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| Refusal::Failed(e.to_string()))?;
    if !meta.is_file() {
        return Err(Refusal::Failed(format!("{name} is not a regular file")));
    }
    let mut body = Vec::new();
    file.take(MAX_FILE)
        .read_to_end(&mut body)
        .map_err(|e| Refusal::Failed(format!("{e}: {name}")))?;
    Ok(body)
}
