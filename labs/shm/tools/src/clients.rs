//! `shm-clients`: many honest clients at once, each its own process with its own stdout (a
//! pipe it reads back), each verifying every answer: the text it asked to write arrives on its
//! own descriptor exactly once, `response` is its length, and GETPID names the client.
//!
//! Exit status 0 when every job of every client was right; 1 otherwise, with what went wrong
//! on stdout; 2 on a usage or setup error. It never waits without a deadline.

use crate::abi;
use crate::ipclib::IpcLib;
use rustix::fd::{AsFd, OwnedFd};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Plan {
    pub ipcdir: PathBuf,
    pub copies: usize,
    pub jobs: usize,
    pub seed: u64,
    pub deadline: Duration,
}

/// The parent: start the copies together, collect their verdicts.
pub fn run(plan: &Plan) -> Result<Vec<String>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let start = Instant::now();
    let mut children = Vec::new();
    for i in 0..plan.copies {
        let child = Command::new(&exe)
            .arg("--ipcdir")
            .arg(&plan.ipcdir)
            .args([
                "--jobs",
                &plan.jobs.to_string(),
                "--seed",
                &plan.seed.to_string(),
            ])
            .args(["--child", &i.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start client {i}: {e}"))?;
        children.push(child);
    }
    let mut problems = Vec::new();
    for (i, mut c) in children.into_iter().enumerate() {
        let mut out = String::new();
        if let Some(mut s) = c.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        let status = c.wait().map_err(|e| format!("wait for client {i}: {e}"))?;
        if !status.success() {
            let why = out.trim();
            problems.push(format!(
                "client {i}: {}",
                if why.is_empty() {
                    format!("ended with {status}")
                } else {
                    why.to_string()
                }
            ));
        }
    }
    if start.elapsed() > plan.deadline && problems.is_empty() {
        problems.push(format!("the run took longer than {:?}", plan.deadline));
    }
    Ok(problems)
}

/// The line client `i` asks the server to write for job `j`.
pub fn line(seed: u64, i: usize, j: usize) -> String {
    format!(
        "client {i} job {j} token {:016x}\n",
        seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i as u64) << 32 ^ j as u64
    )
}

/// One client (a child process): redirect fd 1 to a pipe of our own, then run the jobs.
pub fn child(ipcdir: &Path, i: usize, jobs: usize, seed: u64) -> Result<(), String> {
    // Our real stdout (the parent's pipe) stays reachable as a descriptor above 2.
    let report = rustix::io::fcntl_dupfd_cloexec(std::io::stdout().as_fd(), 10)
        .map_err(|e| format!("dup: {e}"))?;
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: fd 1 is replaced by our pipe; nothing else in this process holds it.
    let mut one = unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(1) };
    rustix::io::dup2(&w, &mut one).map_err(|e| format!("dup2: {e}"))?;
    std::mem::forget(one);
    drop(w);
    let result = jobs_of(ipcdir, i, jobs, seed, &r);
    if let Err(e) = &result {
        let _ = rustix::io::write(&report, format!("{e}\n").as_bytes());
    }
    result
}

fn jobs_of(ipcdir: &Path, i: usize, jobs: usize, seed: u64, r: &OwnedFd) -> Result<(), String> {
    let lib = IpcLib::load(ipcdir).map_err(|e| e.to_string())?;
    let job = lib
        .connect()
        .ok_or("ipc_get_job_buffer returned NULL (see stderr)")?;
    job.prepare(abi::CMD_GETPID, 0, 0);
    let pid = job.run();
    if pid != std::process::id() as i32 {
        return Err(format!(
            "GETPID answered {pid}, but this client is pid {}",
            std::process::id()
        ));
    }
    for j in 0..jobs {
        let text = line(seed, i, j);
        job.prepare(abi::CMD_WRITE, 1, 0);
        job.set_data(text.as_bytes());
        let resp = job.run();
        if resp != text.len() as i32 {
            return Err(format!(
                "job {j}: response {resp}, expected {} (the length of {text:?})",
                text.len()
            ));
        }
        let mut got = vec![0u8; text.len()];
        let mut have = 0;
        while have < got.len() {
            let mut pfd = [rustix::event::PollFd::new(r, rustix::event::PollFlags::IN)];
            let five = rustix::event::Timespec {
                tv_sec: 5,
                tv_nsec: 0,
            };
            if let Ok(0) = rustix::event::poll(&mut pfd, Some(&five)) {
                return Err(format!(
                    "job {j}: the server answered {resp}, but {text:?} did not arrive on this client's own stdout within 5 s (was it written to a descriptor of the server's?)"
                ));
            }
            match rustix::io::read(r, &mut got[have..]) {
                Ok(0) => break,
                Ok(n) => have += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(format!("job {j}: reading my own stdout: {e}")),
            }
        }
        if got != text.as_bytes() {
            return Err(format!(
                "job {j}: my stdout received {:?}, expected {text:?} (another client's text, or none)",
                String::from_utf8_lossy(&got[..have])
            ));
        }
    }
    // Nothing more may arrive: every job is answered exactly once.
    rustix::io::ioctl_fionbio(r, true).map_err(|e| format!("fionbio: {e}"))?;
    let mut extra = [0u8; 256];
    if let Ok(n) = rustix::io::read(r, &mut extra)
        && n > 0
    {
        return Err(format!(
            "after the last job my stdout received {:?} more",
            String::from_utf8_lossy(&extra[..n])
        ));
    }
    drop(job);
    Ok(())
}
