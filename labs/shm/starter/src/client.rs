//! ipc.so, the naive way: open the server's shared table, grab a free slot, and spin until the
//! server has done the job.

use crate::abi::{self, JobRequestBuffer};
use crate::table::{SLOTS, Table};
use std::ffi::c_void;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

static TABLE: OnceLock<Table> = OnceLock::new();

fn table() -> Result<&'static Table, String> {
    if let Some(t) = TABLE.get() {
        return Ok(t);
    }
    // Wait up to 5 seconds for the server to create the table.
    // TODO (handout: 2.3 Finding the server): this polls with sleeps.
    let deadline = Instant::now() + Duration::from_secs(5);
    let t = loop {
        match Table::open() {
            Ok(t) => break t,
            Err(e) if Instant::now() >= deadline => return Err(format!("no server: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    Ok(TABLE.get_or_init(|| t))
}

#[unsafe(no_mangle)]
pub extern "C" fn ipc_get_job_buffer() -> *mut c_void {
    let t = match table() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ipc_get_job_buffer: {e}");
            return std::ptr::null_mut();
        }
    };
    for i in 0..SLOTS {
        if t.lock_word(i)
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            let job = t.slot(i);
            job.status().store(abi::JOB_IDLE, Ordering::Release);
            return job.base().cast();
        }
    }
    eprintln!("ipc_get_job_buffer: all {SLOTS} job buffers are taken");
    std::ptr::null_mut()
}

/// # Safety
/// `job` must come from `ipc_get_job_buffer`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn submit_job_request(job: *mut JobRequestBuffer) {
    // SAFETY: the caller passes a slot of the table.
    let job = unsafe { crate::abi::SharedJob::new(job.cast()) };
    job.status().store(abi::JOB_REQUESTED, Ordering::Release);
}

/// # Safety
/// As for `submit_job_request`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wait_for_job_completion(job: *mut JobRequestBuffer) {
    // SAFETY: as above.
    let job = unsafe { crate::abi::SharedJob::new(job.cast()) };
    // TODO (handout: 5.1 Wait without burning CPU): spins.
    while job.status().load(Ordering::Acquire) != abi::JOB_DONE {
        std::thread::yield_now();
    }
}

/// # Safety
/// As for `submit_job_request`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn disconnect_job_buffer(job: *mut JobRequestBuffer) {
    let lock = std::mem::offset_of!(JobRequestBuffer, lock);
    // SAFETY: as above; the lock word is inside the slot.
    let word = unsafe { std::sync::atomic::AtomicI32::from_ptr(job.cast::<u8>().add(lock).cast()) };
    word.store(0, Ordering::Release);
}
