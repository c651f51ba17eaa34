//! The job request buffer exactly as C (and the notebook's ctypes class) lays it out, the
//! command numbers, the job stages, and typed access to a buffer that lives in shared memory.
//!
//! Everything here is about layout and single loads and stores. It must never decide what a
//! field means for the server (that is `server`'s job) and never hand out a Rust reference to
//! the whole structure: the other side can change any byte at any time, so every access is one
//! atomic load or store of one field.

use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, Ordering};

/// Bytes of the command buffer.
pub const BUFFER_SIZE: usize = 4096;

/// The C structure `JobRequestBuffer_t`, field for field.
#[repr(C)]
#[derive(Debug)]
pub struct JobRequestBuffer {
    pub pid: i32,
    pub cmd: i32,
    pub arg1: i32,
    pub arg2: i32,
    pub response: i32,
    pub buffer: [u8; BUFFER_SIZE],
    pub buffer_len: i32,
    pub status: i32,
    pub lock: i32,
}

/// `write(arg1, buffer, buffer_len)` on the client's descriptor `arg1`.
pub const CMD_WRITE: i32 = 1;
/// `read(arg1, buffer, arg2)` on the client's descriptor `arg1`; sets `buffer_len`.
pub const CMD_READ: i32 = 2;
/// The client's pid as the server knows it (from the kernel, not from `pid`).
pub const CMD_GETPID: i32 = 3;

/// No job in the buffer (a fresh buffer, or one the client has not submitted yet).
pub const JOB_IDLE: u32 = 0;
/// The client submitted the job; a worker may claim it.
pub const JOB_REQUESTED: u32 = 1;
/// A worker claimed the job and is working on it.
pub const JOB_IN_PROGRESS: u32 = 2;
/// The worker stored `response`; the client may read it.
pub const JOB_DONE: u32 = 3;

/// Bytes mapped for one job buffer: the structure rounded up to whole pages.
pub const MAP_SIZE: usize = 8192;

const _: () = assert!(std::mem::size_of::<JobRequestBuffer>() == 4128);
const _: () = assert!(std::mem::size_of::<JobRequestBuffer>() <= MAP_SIZE);

/// Offsets of the fields, in bytes from the start of the structure.
pub mod offset {
    use super::JobRequestBuffer;
    use std::mem::offset_of;
    pub const PID: usize = offset_of!(JobRequestBuffer, pid);
    pub const CMD: usize = offset_of!(JobRequestBuffer, cmd);
    pub const ARG1: usize = offset_of!(JobRequestBuffer, arg1);
    pub const ARG2: usize = offset_of!(JobRequestBuffer, arg2);
    pub const RESPONSE: usize = offset_of!(JobRequestBuffer, response);
    pub const BUFFER: usize = offset_of!(JobRequestBuffer, buffer);
    pub const BUFFER_LEN: usize = offset_of!(JobRequestBuffer, buffer_len);
    pub const STATUS: usize = offset_of!(JobRequestBuffer, status);
}

/// A job buffer in memory that another process can change at any moment.
#[derive(Debug, Clone, Copy)]
pub struct SharedJob {
    base: *mut u8,
}

// SAFETY: a SharedJob is an address; every access through it is atomic.
unsafe impl Send for SharedJob {}
// SAFETY: as above.
unsafe impl Sync for SharedJob {}

impl SharedJob {
    /// # Safety
    /// `base` must point at `MAP_SIZE` bytes, aligned to 4, that stay mapped for as long as
    /// this value (and its copies) are used.
    pub unsafe fn new(base: *mut u8) -> Self {
        Self { base }
    }

    pub fn base(&self) -> *mut u8 {
        self.base
    }

    fn int(&self, off: usize) -> &AtomicI32 {
        // SAFETY: `off` is a field offset inside the mapping (see `new`), 4-aligned.
        unsafe { AtomicI32::from_ptr(self.base.add(off).cast()) }
    }

    pub fn load(&self, off: usize) -> i32 {
        self.int(off).load(Ordering::Relaxed)
    }

    pub fn store(&self, off: usize, value: i32) {
        self.int(off).store(value, Ordering::Relaxed)
    }

    /// The `status` word, the one both sides wait on with a futex.
    pub fn status(&self) -> &AtomicU32 {
        // SAFETY: as in `int`.
        unsafe { AtomicU32::from_ptr(self.base.add(offset::STATUS).cast()) }
    }

    fn byte(&self, i: usize) -> &AtomicU8 {
        assert!(i < BUFFER_SIZE, "byte {i} is outside the job buffer");
        // SAFETY: `i` is inside the buffer field, inside the mapping.
        unsafe { AtomicU8::from_ptr(self.base.add(offset::BUFFER + i)) }
    }

    /// Copy the first `out.len()` bytes of `buffer` out of shared memory.
    pub fn copy_out(&self, out: &mut [u8]) {
        for (i, b) in out.iter_mut().enumerate() {
            *b = self.byte(i).load(Ordering::Relaxed);
        }
    }

    /// Copy `data` into the start of `buffer`.
    pub fn copy_in(&self, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            self.byte(i).store(*b, Ordering::Relaxed);
        }
    }
}
