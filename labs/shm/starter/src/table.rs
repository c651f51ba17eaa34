//! The one shared memory object of the naive design: a header (the kill counter) followed by
//! `SLOTS` job buffers, one per client, all in a single mapping that every client maps too.
//!
//! TODO (handout: 4.2 One buffer per client): every client can read and write every slot.

use crate::abi::{JobRequestBuffer, SharedJob};
use memmap2::{MmapOptions, MmapRaw};
use rustix::fs::Mode;
use rustix::shm;
use std::sync::atomic::{AtomicI32, Ordering};

/// Job buffers in the table.
pub const SLOTS: usize = 64;
/// Bytes before the first slot.
pub const HEADER: usize = 4096;
/// Bytes of one slot (the structure, back to back).
pub const SLOT_SIZE: usize = std::mem::size_of::<JobRequestBuffer>();
/// Bytes of the whole object.
pub const SIZE: usize = HEADER + SLOTS * SLOT_SIZE;
/// The object's name when `SHM_IPC_NAME` does not say otherwise.
pub const DEFAULT_NAME: &str = "/shm-ipc-jobs";

pub fn name() -> String {
    std::env::var("SHM_IPC_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| DEFAULT_NAME.to_string())
}

#[derive(Debug)]
pub struct Table {
    map: MmapRaw,
}

impl Table {
    /// The server's side: make (or reuse) the object, readable and writable by everyone.
    pub fn create() -> Result<Self, String> {
        let fd = shm::open(
            name().as_str(),
            shm::OFlags::CREATE | shm::OFlags::RDWR,
            Mode::from_raw_mode(0o666),
        )
        .map_err(|e| format!("shm_open {}: {e}", name()))?;
        // TODO (handout: 4.4 Seal the memory): any client can ftruncate this object.
        let _ = rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o666));
        // A fresh, zeroed table on every start.
        rustix::fs::ftruncate(&fd, 0).map_err(|e| format!("ftruncate: {e}"))?;
        rustix::fs::ftruncate(&fd, SIZE as u64).map_err(|e| format!("ftruncate: {e}"))?;
        let map = MmapOptions::new()
            .len(SIZE)
            .map_raw(&fd)
            .map_err(|e| format!("mmap: {e}"))?;
        Ok(Self { map })
    }

    /// A client's side: open the object the server made.
    pub fn open() -> Result<Self, String> {
        let fd = shm::open(name().as_str(), shm::OFlags::RDWR, Mode::empty())
            .map_err(|e| format!("shm_open {}: {e}", name()))?;
        let map = MmapOptions::new()
            .len(SIZE)
            .map_raw(&fd)
            .map_err(|e| format!("mmap: {e}"))?;
        Ok(Self { map })
    }

    pub fn slot(&self, i: usize) -> SharedJob {
        assert!(i < SLOTS);
        // SAFETY: slot i lies inside the mapping, which lives as long as the table (the
        // program keeps its table for good). Slots are 4-aligned (4128 = 4 x 1032).
        unsafe { SharedJob::new(self.map.as_mut_ptr().add(HEADER + i * SLOT_SIZE)) }
    }

    /// How many worker threads the killer asked to stop (header word 0).
    pub fn kill_requests(&self) -> &AtomicI32 {
        // SAFETY: offset 0 of the mapping.
        unsafe { AtomicI32::from_ptr(self.map.as_mut_ptr().cast()) }
    }

    pub fn take_kill_request(&self) -> bool {
        self.kill_requests()
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |k| {
                (k > 0).then(|| k - 1)
            })
            .is_ok()
    }

    /// The `lock` word of slot i: 1 while a client holds the slot.
    pub fn lock_word(&self, i: usize) -> &AtomicI32 {
        let off = HEADER + i * SLOT_SIZE + std::mem::offset_of!(JobRequestBuffer, lock);
        // SAFETY: inside the mapping, 4-aligned.
        unsafe { AtomicI32::from_ptr(self.map.as_mut_ptr().add(off).cast()) }
    }
}
