//! `shm-hostile <attack>`: the lab's corpus of hostile clients. Each attack uses the
//! submission's `ipc.so` like an ordinary client, then does what a hostile one would: lies,
//! races, shrinks, snoops, floods, dies. After the attack it checks that the server still
//! answers an honest job correctly.
//!
//! Verdicts: exit 0 the server resisted; 1 the attack worked (stdout says how); 2 the attack
//! could not be set up (stdout says why). Every loop is bounded; the whole run has a deadline.

use crate::abi;
use crate::ipclib::{IpcLib, Job};
use crate::mapping;
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Attack {
    /// Ask for writes on descriptors the client never passed (and on fd 1 when it did not pass it).
    ForeignFd,
    /// Look through the own mapping for another client's buffer.
    Snoop,
    /// Flip buffer_len between a small and a too-large value while the server works.
    LenRace,
    /// Out-of-range buffer_len values (negative, past 4096).
    LenRange,
    /// Unknown commands.
    BadCmd,
    /// Shrink the memory behind the own job buffer.
    Shrink,
    /// Clients that submit a job and die before the answer.
    DieMidJob,
    /// Claim to be another process in `pid`.
    PidLie,
    /// Submit as fast as possible while an honest client works.
    Flood,
}

/// What an attack found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Resisted(String),
    Broken(String),
    Setup(String),
}

#[derive(Debug, Clone)]
pub struct Context {
    pub ipcdir: PathBuf,
    pub log: Option<PathBuf>,
}

fn connect(lib: &IpcLib, who: &str) -> Result<Job, Verdict> {
    lib.connect()
        .ok_or_else(|| Verdict::Setup(format!("{who}: ipc_get_job_buffer returned NULL")))
}

/// The honest job every attack ends with: GETPID must name us.
fn still_serving(lib: &IpcLib, after: &str) -> Verdict {
    let Some(job) = lib.connect() else {
        return Verdict::Broken(format!(
            "after {after}, a new client got no job buffer (the server is gone?)"
        ));
    };
    job.prepare(abi::CMD_GETPID, 0, 0);
    let r = job.run();
    if r != std::process::id() as i32 {
        return Verdict::Broken(format!(
            "after {after}, GETPID answered {r} instead of {}",
            std::process::id()
        ));
    }
    Verdict::Resisted(format!("the server resisted {after} and still serves"))
}

pub fn run(attack: Attack, ctx: &Context) -> Verdict {
    let lib = match IpcLib::load(&ctx.ipcdir) {
        Ok(l) => l,
        Err(e) => return Verdict::Setup(e.to_string()),
    };
    let r = match attack {
        Attack::ForeignFd => foreign_fd(&lib),
        Attack::Snoop => snoop(&lib, &ctx.ipcdir),
        Attack::LenRace => len_race(&lib),
        Attack::LenRange => len_range(&lib),
        Attack::BadCmd => bad_cmd(&lib),
        Attack::Shrink => shrink(&lib),
        Attack::DieMidJob => die_mid_job(&ctx.ipcdir),
        Attack::PidLie => pid_lie(&lib, ctx.log.as_deref()),
        Attack::Flood => flood(&lib),
    };
    match r {
        Ok(what) => still_serving(&lib, &what),
        Err(v) => v,
    }
}

fn foreign_fd(_lib: &IpcLib) -> Result<String, Verdict> {
    // Hand over only stdin and stderr: fd 1 and everything above 2 stay ours.
    // SAFETY: single-threaded at this point; nothing else reads the environment.
    unsafe { std::env::set_var("SHM_IPC_FDS", "0,2") };
    let lib = _lib;
    let job = connect(lib, "foreign-fd")?;
    for fd in [1, 3, 4, 5, 6, 7, 8, 9, 10, 100, -1] {
        job.prepare(abi::CMD_WRITE, fd, 0);
        job.set_data(b"shm-hostile: written through a descriptor the client never passed\n");
        let r = job.run();
        if r >= 0 {
            return Err(Verdict::Broken(format!(
                "a write on fd {fd}, which this client never passed, succeeded ({r} bytes): \
                 the server used its OWN descriptor {fd}"
            )));
        }
        if r != -abi::EBADF {
            return Err(Verdict::Broken(format!(
                "a write on fd {fd} (not passed) answered {r}, expected -EBADF (-9)"
            )));
        }
    }
    Ok("writes on descriptors it was never given".into())
}

fn snoop(lib: &IpcLib, ipcdir: &Path) -> Result<String, Verdict> {
    // A victim in another process puts a secret into its own buffer and tells us when.
    let secret = format!(
        "VICTIM-SECRET-{:x}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let exe = std::env::current_exe().map_err(|e| Verdict::Setup(e.to_string()))?;
    let mut victim = std::process::Command::new(exe)
        .arg("--ipcdir")
        .arg(ipcdir)
        .args(["victim", &secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Verdict::Setup(format!("cannot start the victim: {e}")))?;
    let mut line = String::new();
    {
        use std::io::BufRead;
        let out = victim
            .stdout
            .take()
            .ok_or_else(|| Verdict::Setup("victim stdout".into()))?;
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    if line.trim() != "ready" {
        let _ = victim.kill();
        let _ = victim.wait();
        return Err(Verdict::Setup(format!(
            "the victim did not get a buffer ({:?})",
            line.trim()
        )));
    }
    let job = connect(lib, "snoop")?;
    let m = mapping::containing(job.address()).ok_or_else(|| {
        Verdict::Setup("the job buffer is in no mapping of /proc/self/maps".into())
    })?;
    // SAFETY: the whole range is one live mapping of this process (we do not shrink it).
    let bytes = unsafe { std::slice::from_raw_parts(m.start as *const u8, m.end - m.start) };
    let found = bytes
        .windows(secret.len())
        .position(|w| w == secret.as_bytes());
    drop(victim.stdin.take());
    let _ = victim.wait();
    if let Some(at) = found {
        return Err(Verdict::Broken(format!(
            "another client's secret is readable in this client's mapping ({} at offset {at} of {} bytes)",
            m.path,
            m.end - m.start
        )));
    }
    Ok("a look for another client's buffer".into())
}

/// The victim of `snoop`: a buffer holding the secret until stdin closes.
pub fn victim(ipcdir: &Path, secret: &str) -> Verdict {
    let lib = match IpcLib::load(ipcdir) {
        Ok(l) => l,
        Err(e) => return Verdict::Setup(e.to_string()),
    };
    let Some(job) = lib.connect() else {
        return Verdict::Setup("victim: no buffer".into());
    };
    job.set_data(secret.as_bytes());
    println!("ready");
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    drop(job);
    Verdict::Resisted(String::new())
}

/// Send our own fd 1 to /dev/null, so that nothing the server writes for us is seen.
fn quiet_stdout() -> Result<(), Verdict> {
    let null: OwnedFd = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|e| Verdict::Setup(format!("/dev/null: {e}")))?
        .into();
    // SAFETY: fd 1 is replaced; this process writes its report with println only after
    // restoring nothing (the verdict goes to the saved copy, see main).
    let mut one = unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(1) };
    let r = rustix::io::dup2(&null, &mut one);
    std::mem::forget(one);
    r.map_err(|e| Verdict::Setup(format!("dup2: {e}")))
}

fn len_race(lib: &IpcLib) -> Result<String, Verdict> {
    quiet_stdout()?;
    let job = connect(lib, "len-race")?;
    job.set_data(&[b'x'; 16]);
    let stop = Arc::new(AtomicBool::new(false));
    let addr = job.address();
    let flipper = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            // SAFETY: the job buffer stays mapped until this thread is joined.
            let len = unsafe {
                std::sync::atomic::AtomicI32::from_ptr((addr + abi::BUFFER_LEN) as *mut i32)
            };
            let mut n: u64 = 0;
            while !stop.load(Ordering::Relaxed) && n < 2_000_000_000 {
                len.store(
                    if n.is_multiple_of(2) { 16 } else { 8000 },
                    Ordering::Relaxed,
                );
                n += 1;
            }
        })
    };
    let mut bad = None;
    // Until the race is won, for at most 100000 jobs or 8 seconds (a budget, not a wait).
    let budget = std::time::Instant::now() + std::time::Duration::from_secs(8);
    let mut tries = 0;
    while tries < 100_000 && std::time::Instant::now() < budget {
        tries += 1;
        job.prepare(abi::CMD_WRITE, 1, 0);
        job.submit();
        job.wait();
        let r = job.get(abi::RESPONSE);
        if r != 16 && r != -abi::EINVAL {
            bad = Some(r);
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flipper.join();
    if let Some(r) = bad {
        return Err(Verdict::Broken(format!(
            "with buffer_len flipping between 16 and 8000, a write answered {r}: the server used a \
             length it had not checked (expected 16 or -EINVAL)"
        )));
    }
    Ok(format!(
        "{tries} writes with buffer_len changing under the server"
    ))
}

fn len_range(lib: &IpcLib) -> Result<String, Verdict> {
    quiet_stdout()?;
    let job = connect(lib, "len-range")?;
    for len in [-1, -4096, 4097, 8192, 1 << 20, i32::MAX, i32::MIN] {
        job.set_data(b"hello\n");
        job.prepare(abi::CMD_WRITE, 1, 0);
        job.set(abi::BUFFER_LEN, len);
        let r = job.run();
        if r != -abi::EINVAL {
            return Err(Verdict::Broken(format!(
                "buffer_len {len} answered {r}, expected -EINVAL (-22)"
            )));
        }
    }
    for arg2 in [-1, 4097, i32::MAX] {
        job.prepare(abi::CMD_READ, 0, arg2);
        let r = job.run();
        if r != -abi::EINVAL {
            return Err(Verdict::Broken(format!(
                "READ of {arg2} bytes answered {r}, expected -EINVAL (-22)"
            )));
        }
    }
    Ok("buffer_len and READ sizes out of range".into())
}

fn bad_cmd(lib: &IpcLib) -> Result<String, Verdict> {
    let job = connect(lib, "bad-cmd")?;
    for cmd in [0, 4, 99, -1, i32::MAX, i32::MIN] {
        job.prepare(cmd, 1, 0);
        job.set_data(b"x");
        let r = job.run();
        if r != -abi::ENOSYS {
            return Err(Verdict::Broken(format!(
                "command {cmd} answered {r}, expected -ENOSYS (-38)"
            )));
        }
    }
    Ok("unknown commands".into())
}

fn shrink(lib: &IpcLib) -> Result<String, Verdict> {
    let job = connect(lib, "shrink")?;
    let m = mapping::containing(job.address())
        .ok_or_else(|| Verdict::Setup("the job buffer is in no mapping".into()))?;
    let Some(fd) = mapping::descriptor_of(&m) else {
        return Ok(format!("a shrink (no descriptor of {} reachable)", m.path));
    };
    match rustix::fs::ftruncate(&fd, 0) {
        Ok(()) => {
            // Do not touch the mapping again: it would kill us with SIGBUS.
            job.abandon();
            Err(Verdict::Broken(format!(
                "ftruncate({}) to 0 bytes succeeded: the memory under the server's mapping is gone",
                m.path
            )))
        }
        Err(e) => {
            let _ = fd.as_raw_fd();
            Ok(format!("a shrink of {} ({e})", m.path))
        }
    }
}

fn die_mid_job(ipcdir: &Path) -> Result<String, Verdict> {
    let exe = std::env::current_exe().map_err(|e| Verdict::Setup(e.to_string()))?;
    for i in 0..80 {
        let st = std::process::Command::new(&exe)
            .arg("--ipcdir")
            .arg(ipcdir)
            .arg("die")
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| Verdict::Setup(format!("cannot start dying client {i}: {e}")))?;
        if st.code() == Some(2) {
            return Err(Verdict::Broken(format!(
                "dying client {i} got no job buffer: the buffers of the {i} clients that died before it were never freed"
            )));
        }
    }
    Ok("80 clients that died in the middle of a job".into())
}

/// One dying client: submit and vanish before the answer. Exit 2 when it got no buffer.
pub fn die(ipcdir: &Path) -> ! {
    let Ok(lib) = IpcLib::load(ipcdir) else {
        std::process::exit(2)
    };
    let Some(job) = lib.connect() else {
        std::process::exit(2)
    };
    job.prepare(abi::CMD_WRITE, 1, 0);
    job.set_data(b"dying\n");
    job.submit();
    job.abandon();
    // SAFETY: _exit ends the process at once, skipping destructors and the library's cleanup.
    unsafe { libc::_exit(0) }
}

fn pid_lie(lib: &IpcLib, log: Option<&Path>) -> Result<String, Verdict> {
    let job = connect(lib, "pid-lie")?;
    let me = std::process::id() as i32;
    let lie = 1;
    job.prepare(abi::CMD_GETPID, 0, 0);
    job.set(abi::PID, lie);
    let r = job.run();
    if r != me {
        return Err(Verdict::Broken(format!(
            "with pid = {lie} in the buffer, GETPID answered {r}; the kernel says this client is {me}"
        )));
    }
    let Some(log) = log else {
        return Ok("a lie in `pid`".into());
    };
    let text = std::fs::read_to_string(log).map_err(|e| {
        Verdict::Broken(format!("cannot read the audit log {}: {e}", log.display()))
    })?;
    let logged = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|v| v["event"] == "pid-mismatch" && v["claimed_pid"] == lie && v["peer_pid"] == me);
    if !logged {
        return Err(Verdict::Broken(format!(
            "the audit log {} has no line {{\"event\":\"pid-mismatch\",\"claimed_pid\":{lie},\"peer_pid\":{me},...}}",
            log.display()
        )));
    }
    Ok("a lie in `pid` (and it is in the log)".into())
}

fn flood(lib: &IpcLib) -> Result<String, Verdict> {
    quiet_stdout()?;
    let noisy = connect(lib, "flood")?;
    let honest = connect(lib, "flood (honest)")?;
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            noisy.prepare(abi::CMD_GETPID, 0, 0);
            // Keep the job requested all the time (a store, no system call), and ring now
            // and then: a server that always scans from its first client serves only us.
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && n < 500_000_000 {
                noisy.set(abi::STATUS, abi::JOB_REQUESTED);
                if n.is_multiple_of(4096) {
                    noisy.submit();
                }
                n += 1;
            }
            noisy.abandon();
        })
    };
    let mut wrong = None;
    for j in 0..200 {
        let text = format!("honest job {j}\n");
        honest.prepare(abi::CMD_WRITE, 1, 0);
        honest.set_data(text.as_bytes());
        let r = honest.run();
        if r != text.len() as i32 {
            wrong = Some((j, r));
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flooder.join();
    if let Some((j, r)) = wrong {
        return Err(Verdict::Broken(format!(
            "during a flood, honest job {j} answered {r}"
        )));
    }
    Ok("a flood of submissions next to 200 honest jobs".into())
}

/// Keep the real stdout for the verdict before an attack redirects fd 1.
pub fn save_stdout() -> Option<OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(std::io::stdout().as_fd(), 10).ok()
}
