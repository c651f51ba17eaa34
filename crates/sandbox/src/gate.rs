//! A start gate: several processes (a scenario's copies of one client) released at one moment,
//! not one after another as they are spawned.
//!
//! Each process is started as this executable in gate mode ([`GATE_ARG`]), already dropped to its
//! user: it opens the gate file, asks for a shared `flock` on it, which blocks while the grader
//! holds the exclusive one, and then execs the real program (same pid, same environment). The
//! grader releases the lock once the kernel lists every copy as waiting for it (`/proc/locks`),
//! or after a bound, so every copy leaves its wait within the same wake-up. A copy that reaches
//! the gate late passes at once: nothing can be held shut for ever. The wait in gate mode runs
//! as the student's user, and is bounded like the rest of the run by the run's own deadline.
//!
//! Gate mode must never do anything but wait and exec; the grader side never waits on a student
//! process without a bound.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};

use super::Spec;

/// The hidden first argument of gate mode: `EXE --ipc-lab-gate GATE_FILE -- PROGRAM ARGS...`.
pub const GATE_ARG: &str = "--ipc-lab-gate";

/// Set once this executable has called [`run_if_gate`]: it can serve as the gate's trampoline.
static SERVES_GATES: AtomicBool = AtomicBool::new(false);

/// When this process was started in gate mode, waits at the gate and execs the program; never
/// returns then. Otherwise notes that this executable can serve as a trampoline. Call it first
/// in `main`, before any thread starts.
pub fn run_if_gate() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_none_or(|a| a != GATE_ARG) {
        SERVES_GATES.store(true, Ordering::SeqCst);
        return;
    }
    let code = match (args.get(2), args.get(3), args.get(4)) {
        (Some(gate), Some(dashes), Some(program)) if dashes == "--" => {
            pass(Path::new(gate), program, &args[4..])
        }
        _ => {
            eprintln!("gate: usage: {GATE_ARG} GATE_FILE -- PROGRAM [ARGS...]");
            127
        }
    };
    std::process::exit(code);
}

/// Waits at the gate, then execs; returns only the exit code of a failure.
fn pass(gate: &Path, program: &OsString, argv: &[OsString]) -> i32 {
    // Nothing to wait at (no such file): start at once, without a word on the program's stderr.
    if let Ok(file) = File::open(gate) {
        // An interrupted wait is tried again; any other failure opens the gate for this one.
        while let Err(rustix::io::Errno::INTR) = flock(file.as_fd(), FlockOperation::LockShared) {}
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let resolved = super::resolve_program(&program.to_string_lossy(), &path);
    let c = |s: &OsString| CString::new(s.as_bytes()).ok();
    let (Some(exe), Some(args)) = (
        c(&resolved),
        argv.iter().map(c).collect::<Option<Vec<CString>>>(),
    ) else {
        eprintln!("gate: a NUL byte in the command");
        return 127;
    };
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut pair = k.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(v.as_bytes());
            CString::new(pair).ok()
        })
        .collect();
    let err = nix::unistd::execve(&exe, &args, &env).unwrap_err();
    eprintln!("gate: cannot run {}: {err}", resolved.to_string_lossy());
    if err == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    }
}

/// This executable, when it can serve as the gate's trampoline (it called [`run_if_gate`]).
pub fn trampoline() -> Option<PathBuf> {
    if !SERVES_GATES.load(Ordering::SeqCst) {
        return None;
    }
    std::env::current_exe().ok()
}

/// A closed gate: an empty file (root's, readable by all) the grader holds an exclusive lock on.
#[derive(Debug)]
pub struct Gate {
    file: File,
    path: PathBuf,
    trampoline: PathBuf,
}

impl Gate {
    /// A closed gate in `dir`; None when this executable cannot serve as the trampoline.
    pub fn new(dir: &Path) -> io::Result<Option<Gate>> {
        match trampoline() {
            Some(exe) => Gate::with_trampoline(dir, exe).map(Some),
            None => Ok(None),
        }
    }

    /// A closed gate in `dir` whose processes start as `trampoline` in gate mode (an executable
    /// that calls [`run_if_gate`] first).
    pub fn with_trampoline(dir: &Path, trampoline: PathBuf) -> io::Result<Gate> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
        let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let path = dir.join(format!(".start-gate-{name}"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)?;
        flock(file.as_fd(), FlockOperation::LockExclusive)?;
        Ok(Gate {
            file,
            path,
            trampoline,
        })
    }

    /// The gate file, for a process started by hand: `TRAMPOLINE --ipc-lab-gate PATH -- ...`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes `spec` start behind this gate: the trampoline runs first, then `spec`'s program.
    pub fn hold(&self, spec: &mut Spec) {
        let mut args: Vec<OsString> = vec![
            GATE_ARG.into(),
            self.path.clone().into_os_string(),
            "--".into(),
            spec.program.clone(),
        ];
        args.append(&mut spec.args);
        spec.program = self.trampoline.clone().into_os_string();
        spec.args = args;
    }

    /// Opens the gate once `expected` processes wait at it, or once `within` has passed; returns
    /// how many were waiting. The file stays (a late copy passes through it at once); it goes with
    /// the scratch tree.
    pub fn release(self, expected: usize, within: Duration) -> usize {
        let until = Instant::now() + within;
        let ino = self.file.metadata().map(|m| m.ino()).unwrap_or(0);
        let mut waiting = waiters(ino);
        while waiting < expected && Instant::now() < until {
            // The kernel offers no event for "someone waits on this lock"; /proc/locks is read
            // again after a short pause, and the bound above ends the wait in any case.
            std::thread::sleep(Duration::from_micros(200));
            waiting = waiters(ino);
        }
        let _ = flock(self.file.as_fd(), FlockOperation::Unlock);
        waiting
    }
}

/// How many processes wait for a `flock` lock on inode `ino` (`/proc/locks` lines with `->`).
fn waiters(ino: u64) -> usize {
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return 0;
    };
    locks
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            fields.get(1) == Some(&"->")
                && fields.get(2) == Some(&"FLOCK")
                && fields
                    .get(6)
                    .and_then(|dev_ino| dev_ino.rsplit(':').next())
                    .and_then(|i| i.parse::<u64>().ok())
                    == Some(ino)
        })
        .count()
}
