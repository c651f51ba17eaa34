//! Loading a submission's `ipc.so` and driving one job buffer through its four functions,
//! exactly as the notebook does.
//!
//! It must never touch a job buffer except through single atomic loads and stores (the server
//! may be changing it), and never hide a NULL from `ipc_get_job_buffer`.

use crate::abi;
use std::ffi::{CString, c_void};
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum LibError {
    #[error("cannot load {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("{path} does not export `{symbol}`")]
    Symbol { path: String, symbol: &'static str },
}

type GetFn = unsafe extern "C" fn() -> *mut c_void;
type JobFn = unsafe extern "C" fn(*mut c_void);

/// A loaded `ipc.so`. It stays loaded for the life of the process.
#[derive(Debug, Clone, Copy)]
pub struct IpcLib {
    get: GetFn,
    submit: JobFn,
    wait: JobFn,
    disconnect: JobFn,
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by libc.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: non-NULL, NUL-terminated (see above).
        unsafe { std::ffi::CStr::from_ptr(e) }
            .to_string_lossy()
            .into_owned()
    }
}

impl IpcLib {
    /// Load `DIR/ipc.so` when `dir` is a directory, else the library file `dir` itself
    /// (e.g. a build's `target/release/libipc.so`).
    pub fn load(dir: &Path) -> Result<Self, LibError> {
        let path = if dir.is_dir() {
            dir.join("ipc.so")
        } else {
            dir.to_path_buf()
        };
        let shown = path.display().to_string();
        let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| LibError::Load {
            path: shown.clone(),
            reason: "NUL in path".into(),
        })?;
        // SAFETY: loading a shared library runs its initialisers; that is the point here.
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW) };
        if h.is_null() {
            return Err(LibError::Load {
                path: shown,
                reason: dlerror(),
            });
        }
        let sym = |name: &'static str| -> Result<*mut c_void, LibError> {
            let n = CString::new(name).expect("symbol names have no NUL");
            // SAFETY: h is a live handle from dlopen.
            let p = unsafe { libc::dlsym(h, n.as_ptr()) };
            if p.is_null() {
                Err(LibError::Symbol {
                    path: shown.clone(),
                    symbol: name,
                })
            } else {
                Ok(p)
            }
        };
        // SAFETY: the handout fixes these signatures (the notebook's ctypes declarations).
        unsafe {
            Ok(Self {
                get: std::mem::transmute::<*mut c_void, GetFn>(sym("ipc_get_job_buffer")?),
                submit: std::mem::transmute::<*mut c_void, JobFn>(sym("submit_job_request")?),
                wait: std::mem::transmute::<*mut c_void, JobFn>(sym("wait_for_job_completion")?),
                disconnect: std::mem::transmute::<*mut c_void, JobFn>(sym(
                    "disconnect_job_buffer",
                )?),
            })
        }
    }

    /// `ipc_get_job_buffer()`; `None` for NULL.
    pub fn connect(&self) -> Option<Job> {
        // SAFETY: the library's own function, no arguments.
        let p = unsafe { (self.get)() };
        (!p.is_null()).then(|| Job {
            lib: *self,
            base: p.cast(),
        })
    }
}

/// One job buffer from `ipc_get_job_buffer`. Dropping it disconnects.
#[derive(Debug)]
pub struct Job {
    lib: IpcLib,
    base: *mut u8,
}

// SAFETY: a job buffer is shared memory used only through atomics; the library's functions
// take the pointer from any thread.
unsafe impl Send for Job {}

impl Job {
    pub fn address(&self) -> usize {
        self.base as usize
    }

    fn int(&self, off: usize) -> &AtomicI32 {
        // SAFETY: the buffer is at least abi::SIZE bytes, 4-aligned; `off` is a field offset.
        unsafe { AtomicI32::from_ptr(self.base.add(off).cast()) }
    }

    pub fn get(&self, off: usize) -> i32 {
        self.int(off).load(Ordering::Acquire)
    }

    pub fn set(&self, off: usize, v: i32) {
        self.int(off).store(v, Ordering::Release)
    }

    /// Put `data` into `buffer` and its length into `buffer_len`.
    pub fn set_data(&self, data: &[u8]) {
        assert!(data.len() <= abi::BUFFER_SIZE);
        for (i, b) in data.iter().enumerate() {
            // SAFETY: inside the buffer field.
            unsafe { AtomicU8::from_ptr(self.base.add(abi::BUFFER + i)) }
                .store(*b, Ordering::Relaxed);
        }
        self.set(abi::BUFFER_LEN, data.len() as i32);
    }

    /// The first `n` bytes of `buffer`.
    pub fn data(&self, n: usize) -> Vec<u8> {
        (0..n.min(abi::BUFFER_SIZE))
            // SAFETY: inside the buffer field.
            .map(|i| {
                unsafe { AtomicU8::from_ptr(self.base.add(abi::BUFFER + i)) }
                    .load(Ordering::Relaxed)
            })
            .collect()
    }

    /// Fill in a job the way the notebook does.
    pub fn prepare(&self, cmd: i32, arg1: i32, arg2: i32) {
        self.set(abi::PID, std::process::id() as i32);
        self.set(abi::CMD, cmd);
        self.set(abi::ARG1, arg1);
        self.set(abi::ARG2, arg2);
    }

    pub fn submit(&self) {
        // SAFETY: a pointer from ipc_get_job_buffer, still connected.
        unsafe { (self.lib.submit)(self.base.cast()) }
    }

    pub fn wait(&self) {
        // SAFETY: as above.
        unsafe { (self.lib.wait)(self.base.cast()) }
    }

    /// Submit, wait, and return `response`.
    pub fn run(&self) -> i32 {
        self.submit();
        self.wait();
        self.get(abi::RESPONSE)
    }

    /// A raw view for attacks that go around the library.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// Drop without disconnecting (a client that just goes away).
    pub fn abandon(self) {
        std::mem::forget(self);
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: as above; not used afterwards.
        unsafe { (self.lib.disconnect)(self.base.cast()) }
    }
}
