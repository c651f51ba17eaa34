//! `shm-bench`: the round trip of one one-line write job through a shm-lab server (its
//! `ipc.so`), side by side with the same request over a Unix socket and over a pipe pair (to a
//! server thread that performs the same write), and the floor: a futex ping-pong between two
//! threads. Then throughput: many clients at once through the shm server.
//!
//! It measures and prints; it asserts nothing about speed and never decides a grade.

use crate::abi;
use crate::ipclib::IpcLib;
use rustix::fd::{AsFd, OwnedFd};
use rustix::thread::futex;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const LINE: &[u8] = b"a one-line write job\n";

/// Median and 99th percentile of a set of round trips.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median: Duration,
    pub p99: Duration,
}

impl Stats {
    /// Median and p99 of `v` (at least one sample).
    pub fn from_samples(mut v: Vec<Duration>) -> Self {
        v.sort();
        let at = |q: f64| v[((v.len().max(1) as f64 - 1.0) * q) as usize];
        Self {
            median: at(0.5),
            p99: at(0.99),
        }
    }
}

fn devnull() -> OwnedFd {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .expect("/dev/null opens")
        .into()
}

/// A server process started from `DIR/server`, on a private socket; killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(ipcdir: &Path, workers: usize) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let sock = dir.path().join("ipc.sock");
        // SAFETY: called before any thread of ours reads the environment.
        unsafe { std::env::set_var("SHM_IPC_SOCKET", &sock) };
        let mut child = Command::new(ipcdir.join("server"))
            .arg(workers.to_string())
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}/server: {e}", ipcdir.display()))?;
        let mut line = String::new();
        let out = child.stdout.take().ok_or("no stdout")?;
        let _ = BufReader::new(out).read_line(&mut line);
        if !line.starts_with("server ready") {
            let _ = child.kill();
            return Err(format!(
                "the server did not print its readiness line (got {line:?})"
            ));
        }
        Ok(Self { child, _dir: dir })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Round trips through the shm server's `ipc.so`, writing LINE to /dev/null.
pub fn shm_round_trips(lib: &IpcLib, n: usize) -> Result<Vec<Duration>, String> {
    let job = lib.connect().ok_or("ipc_get_job_buffer returned NULL")?;
    let mut v = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        job.prepare(abi::CMD_WRITE, 1, 0);
        job.set_data(LINE);
        let t = Instant::now();
        let r = job.run();
        let d = t.elapsed();
        if r != LINE.len() as i32 {
            return Err(format!("job {i} answered {r}"));
        }
        if i >= n / 10 {
            v.push(d);
        }
    }
    Ok(v)
}

/// A server thread on `(rx, tx)`: read a request (len byte + data), write the data to
/// /dev/null, answer the 4-byte response.
fn byte_server(rx: OwnedFd, tx: OwnedFd) {
    let null = devnull();
    let mut buf = [0u8; 4097];
    loop {
        match rustix::io::read(&rx, &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let len = (buf[0] as usize).min(n - 1);
                let w = rustix::io::write(&null, &buf[1..1 + len])
                    .map(|w| w as i32)
                    .unwrap_or(-1);
                if rustix::io::write(&tx, &w.to_le_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

fn byte_round_trips(tx: &OwnedFd, rx: &OwnedFd, n: usize) -> Vec<Duration> {
    let mut req = vec![LINE.len() as u8];
    req.extend_from_slice(LINE);
    let mut v = Vec::with_capacity(n);
    let mut resp = [0u8; 4];
    for i in 0..n + n / 10 {
        let t = Instant::now();
        let _ = rustix::io::write(tx, &req);
        let _ = rustix::io::read(rx, &mut resp);
        if i >= n / 10 {
            v.push(t.elapsed());
        }
    }
    v
}

pub fn unix_round_trips(n: usize) -> Vec<Duration> {
    let (a, b) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .expect("socketpair");
    let b2 = rustix::io::fcntl_dupfd_cloexec(&b, 0).expect("dup");
    let h = std::thread::spawn(move || byte_server(b, b2));
    let v = byte_round_trips(&a, &a, n);
    drop(a);
    let _ = h.join();
    v
}

pub fn pipe_round_trips(n: usize) -> Vec<Duration> {
    let (r1, w1) = rustix::pipe::pipe().expect("pipe");
    let (r2, w2) = rustix::pipe::pipe().expect("pipe");
    let h = std::thread::spawn(move || byte_server(r1, w2));
    let v = byte_round_trips(&w1, &r2, n);
    drop(w1);
    let _ = h.join();
    v
}

/// The floor: two threads handing a token back and forth with a (shared) futex.
pub fn futex_round_trips(n: usize) -> Vec<Duration> {
    let word = Arc::new(AtomicU32::new(0));
    let total = n + n / 10;
    let w = Arc::clone(&word);
    let h = std::thread::spawn(move || {
        for _ in 0..total {
            while w.load(Ordering::Acquire) != 1 {
                let _ = futex::wait(&w, futex::Flags::empty(), 0, None);
            }
            w.store(0, Ordering::Release);
            let _ = futex::wake(&w, futex::Flags::empty(), 1);
        }
    });
    let mut v = Vec::with_capacity(n);
    for i in 0..total {
        let t = Instant::now();
        word.store(1, Ordering::Release);
        let _ = futex::wake(&word, futex::Flags::empty(), 1);
        while word.load(Ordering::Acquire) != 0 {
            let _ = futex::wait(&word, futex::Flags::empty(), 1, None);
        }
        if i >= n / 10 {
            v.push(t.elapsed());
        }
    }
    let _ = h.join();
    v
}

/// `clients` threads, each with its own job buffer, `jobs` writes each. Jobs per second.
pub fn throughput(lib: &IpcLib, clients: usize, jobs: usize) -> Result<f64, String> {
    let t = Instant::now();
    let hs: Vec<_> = (0..clients)
        .map(|_| {
            let lib = *lib;
            std::thread::spawn(move || -> Result<(), String> {
                let job = lib.connect().ok_or("ipc_get_job_buffer returned NULL")?;
                for _ in 0..jobs {
                    job.prepare(abi::CMD_WRITE, 1, 0);
                    job.set_data(LINE);
                    let r = job.run();
                    if r != LINE.len() as i32 {
                        return Err(format!("a job answered {r}"));
                    }
                }
                Ok(())
            })
        })
        .collect();
    for h in hs {
        h.join()
            .map_err(|_| "a client thread panicked".to_string())??;
    }
    Ok((clients * jobs) as f64 / t.elapsed().as_secs_f64())
}

/// Point fd 1 at /dev/null for the whole benchmark (the shm jobs write there).
pub fn quiet_stdout() -> Option<OwnedFd> {
    let saved = rustix::io::fcntl_dupfd_cloexec(std::io::stdout().as_fd(), 10).ok()?;
    let null = devnull();
    // SAFETY: fd 1 is replaced, never closed.
    let mut one = unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(1) };
    let _ = rustix::io::dup2(&null, &mut one);
    std::mem::forget(one);
    Some(saved)
}

pub fn fmt(d: Duration) -> String {
    format!("{:.1} us", d.as_nanos() as f64 / 1000.0)
}
