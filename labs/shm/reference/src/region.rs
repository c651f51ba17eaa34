//! Shared memory that the other side cannot pull out from under us: a memfd sealed against
//! shrinking and growing (and against further seal changes), mapped shared.
//!
//! `create` makes one (the client's job buffer, the server's doorbell); `adopt` checks one that
//! a peer sent before mapping it. It must never map a descriptor whose size could still change:
//! touching a page past the end of a shrunk file kills the process with SIGBUS.

use memmap2::{MmapOptions, MmapRaw};
use rustix::fd::OwnedFd;
use rustix::fs::{MemfdFlags, SealFlags};

/// A sealed memfd and its shared mapping. Dropping it unmaps and closes.
#[derive(Debug)]
pub struct Region {
    fd: OwnedFd,
    map: MmapRaw,
}

const SEALS: SealFlags = SealFlags::SHRINK
    .union(SealFlags::GROW)
    .union(SealFlags::SEAL);

impl Region {
    /// A new zeroed region of `size` bytes, sealed.
    pub fn create(name: &str, size: usize) -> Result<Self, String> {
        let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
            .map_err(|e| format!("memfd_create: {e}"))?;
        rustix::fs::ftruncate(&fd, size as u64).map_err(|e| format!("ftruncate: {e}"))?;
        rustix::fs::fcntl_add_seals(&fd, SEALS).map_err(|e| format!("sealing the memfd: {e}"))?;
        Self::map(fd, size)
    }

    /// A region a peer sent: it must be a memfd of exactly `size` bytes that can neither
    /// shrink nor grow any more.
    pub fn adopt(fd: OwnedFd, size: usize) -> Result<Self, String> {
        let seals = rustix::fs::fcntl_get_seals(&fd)
            .map_err(|_| "the job buffer is not a memfd that supports seals".to_string())?;
        if !seals.contains(SealFlags::SHRINK | SealFlags::GROW) {
            return Err(
                "the job buffer's memfd is not sealed against shrinking and growing".into(),
            );
        }
        let st = rustix::fs::fstat(&fd).map_err(|e| format!("fstat: {e}"))?;
        if st.st_size != size as i64 {
            return Err(format!(
                "the job buffer is {} bytes, not {size}",
                st.st_size
            ));
        }
        Self::map(fd, size)
    }

    fn map(fd: OwnedFd, size: usize) -> Result<Self, String> {
        let map = MmapOptions::new()
            .len(size)
            .map_raw(&fd)
            .map_err(|e| format!("mmap: {e}"))?;
        Ok(Self { fd, map })
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    pub fn ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }
}
