//! The naive job server: N worker threads that spin over every slot of the shared table and
//! perform each job they find, exactly as the job buffer says.
//!
//! Each TODO below is a flaw the lab's hostile clients exploit; the handout section it names
//! explains the attack and the fix.

use crate::abi::{self, SharedJob, offset};
use crate::table::{SLOTS, Table};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const MAX_WORKERS: usize = 64;

fn serve(job: &SharedJob) {
    let cmd = job.load(offset::CMD);
    let fd = job.load(offset::ARG1);
    let response = match cmd {
        abi::CMD_WRITE => {
            // TODO (handout: 4.3 Copy, then check): buffer_len is checked here...
            if job.load(offset::BUFFER_LEN) > abi::BUFFER_SIZE as i32 {
                -22
            } else {
                // ...and read again on every round of this loop, after the client had every
                // chance to change it. (Pieces of at most PIPE_BUF bytes keep pipe writes whole.)
                let mut done = 0usize;
                let mut result = 0isize;
                while done < job.load(offset::BUFFER_LEN) as usize {
                    let piece = (job.load(offset::BUFFER_LEN) as usize - done).min(512);
                    // TODO (handout: 4.1 Whose descriptor is it?): `fd` is looked up in the
                    // SERVER's descriptor table, not the client's.
                    // SAFETY: none, really: the address range comes from the client.
                    let n = unsafe { raw_write(fd, job.base().add(offset::BUFFER + done), piece) };
                    if n <= 0 {
                        result = if done == 0 { n } else { done as isize };
                        break;
                    }
                    done += n as usize;
                    result = done as isize;
                }
                result as i32
            }
        }
        abi::CMD_READ => {
            let len = (job.load(offset::ARG2) as usize).min(abi::BUFFER_SIZE);
            // SAFETY: inside the slot.
            let n = unsafe { raw_read(fd, job.base().add(offset::BUFFER), len) };
            if n >= 0 {
                job.store(offset::BUFFER_LEN, n as i32);
            }
            n as i32
        }
        // TODO (handout: 4.5 Who is asking?): the client says who it is, and we believe it.
        abi::CMD_GETPID => job.load(offset::PID),
        // TODO (handout: 4.6 Survive every client): an unknown command kills this worker.
        other => panic!("unknown command {other}"),
    };
    job.store(offset::RESPONSE, response);
    job.status().store(abi::JOB_DONE, Ordering::Release);
}

/// `write(2)` straight from shared memory, on the server's own descriptor `fd`.
///
/// # Safety
/// The kernel checks the range; a bad one gives -EFAULT.
unsafe fn raw_write(fd: i32, ptr: *const u8, len: usize) -> isize {
    // SAFETY: see above; the descriptor is borrowed for the call only.
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
    // SAFETY: see above.
    let data = unsafe { std::slice::from_raw_parts(ptr, len) };
    match rustix::io::write(fd, data) {
        Ok(n) => n as isize,
        Err(e) => -(e.raw_os_error() as isize),
    }
}

/// `read(2)` straight into shared memory.
///
/// # Safety
/// As for `raw_write`.
unsafe fn raw_read(fd: i32, ptr: *mut u8, len: usize) -> isize {
    // SAFETY: see above.
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
    // SAFETY: see above.
    let data = unsafe { std::slice::from_raw_parts_mut(ptr, len) };
    match rustix::io::read(fd, data) {
        Ok(n) => n as isize,
        Err(e) => -(e.raw_os_error() as isize),
    }
}

fn worker(table: Arc<Table>, live: Arc<AtomicUsize>) {
    // TODO (handout: 5.1 Wait without burning CPU): this loop never sleeps.
    loop {
        if table.take_kill_request() {
            break;
        }
        for i in 0..SLOTS {
            let job = table.slot(i);
            if job
                .status()
                .compare_exchange(
                    abi::JOB_REQUESTED,
                    abi::JOB_IN_PROGRESS,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                serve(&job);
            }
        }
        std::thread::yield_now();
    }
    if live.fetch_sub(1, Ordering::AcqRel) == 1 {
        std::process::exit(0);
    }
}

pub fn main_with_args(args: &[String]) -> ExitCode {
    let n = match args {
        [n] => match n.parse::<usize>() {
            Ok(n) if (1..=MAX_WORKERS).contains(&n) => n,
            _ => {
                eprintln!("server: N must be a whole number from 1 to {MAX_WORKERS}, not `{n}`");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: server N   (N worker threads, 1 to {MAX_WORKERS})");
            return ExitCode::from(2);
        }
    };
    let table = match Table::create() {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("server: {e}");
            return ExitCode::from(1);
        }
    };
    table.kill_requests().store(0, Ordering::Release);
    let live = Arc::new(AtomicUsize::new(n));
    let mut handles = Vec::new();
    for _ in 0..n {
        let (t, l) = (Arc::clone(&table), Arc::clone(&live));
        handles.push(std::thread::spawn(move || worker(t, l)));
    }
    println!(
        "server ready pid={} workers={n} shm={}",
        std::process::id(),
        crate::table::name()
    );
    for h in handles {
        let _ = h.join();
    }
    ExitCode::SUCCESS
}
