//! Starting one worker for one submission and waiting for it, with a deadline for the whole
//! grading run, then making sure nothing of it is left: no process of the slot's users, no
//! scratch tree in the slot's directory.
//!
//! Whatever goes wrong on this side (the worker cannot start, crashes, hangs, says nothing) is
//! the infrastructure's fault, never the student's: it becomes an `infra` outcome. This module
//! must never wait without a deadline and never signal anything but its own worker's process group
//! and the slot's own users.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::outputs::Layout;
use super::roster::Entry;
use super::row::{Outcome, RowStatus};

/// How workers are started; shared by every slot.
#[derive(Debug)]
pub struct Launcher {
    /// The worker program: this grader, or `GRADER_BATCH_WORKER`.
    pub program: PathBuf,
    /// Options every worker gets (`--lab`, `--cache-dir`, ...), before the submission.
    pub shared_args: Vec<OsString>,
    /// Deadline of one whole grading run.
    pub timeout: Duration,
    pub layout: Layout,
    /// Per slot (index = slot - 1): the uids of its users, to sweep after each run; empty when
    /// not root.
    pub slot_uids: Vec<Vec<u32>>,
    /// The batch's scratch directory; slot `n` uses `slot-<n>` in it.
    pub scratch: PathBuf,
    pub lab_digest: String,
}

impl Launcher {
    pub fn slot_scratch(&self, slot: u32) -> PathBuf {
        self.scratch.join(format!("slot-{slot}"))
    }

    /// Grades one submission in `slot`; returns its outcome and how long it took.
    pub fn grade(&self, slot: u32, entry: &Entry) -> (Outcome, Duration) {
        let started = Instant::now();
        let outcome = self.run_worker(slot, entry);
        // A worker that reported cleaned up after itself; one that failed may not have.
        if outcome.status == RowStatus::Infra {
            self.clean_slot(slot);
        }
        (outcome, started.elapsed())
    }

    fn run_worker(&self, slot: u32, entry: &Entry) -> Outcome {
        let infra = |why: String| Outcome::failed(RowStatus::Infra, &self.lab_digest, why);
        let outcome_path = self.layout.staged(&entry.stem, "outcome");
        let log_path = self.layout.log(&entry.stem);
        let (stdout, stderr) = match (File::create(&outcome_path), File::create(&log_path)) {
            (Ok(out), Ok(err)) => (out, err),
            (Err(e), _) | (_, Err(e)) => {
                return infra(format!("cannot create the worker's output files: {e}"));
            }
        };
        let mut command = Command::new(&self.program);
        command
            .arg("batch")
            .arg("--worker")
            .arg(slot.to_string())
            .arg("--stage")
            .arg(self.layout.stage_prefix(&entry.stem))
            .arg("--scratch-dir")
            .arg(self.slot_scratch(slot))
            .args(&self.shared_args)
            .arg("--")
            .arg(&entry.dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // Its own group, so a deadline kills the worker and whatever it started with it.
            .process_group(0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                return infra(format!(
                    "cannot start the grader {}: {e}",
                    self.program.display()
                ));
            }
        };
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let ended = match rx.recv_timeout(self.timeout) {
            Ok(status) => Some(status),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // The worker is not reaped until the waiter sees it end, so its process group id
                // cannot have been reused yet.
                if let Ok(pgid) = i32::try_from(pid) {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pgid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = rx.recv();
                None
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(Err(std::io::Error::other(
                "the thread waiting for the worker stopped",
            ))),
        };
        let _ = waiter.join();
        let log = self.log_name(entry);
        match ended {
            None => infra(format!(
                "grading took longer than {} s and was stopped (see {log})",
                self.timeout.as_secs()
            )),
            Some(Err(e)) => infra(format!("cannot wait for the grader: {e}")),
            Some(Ok(status)) => {
                let said = std::fs::read_to_string(&outcome_path).unwrap_or_default();
                match (status.code(), Outcome::read_from(&said)) {
                    (Some(_), Some(outcome)) => outcome,
                    _ => infra(format!(
                        "the grader {} without a result (see {log})",
                        describe(status)
                    )),
                }
            }
        }
    }

    fn log_name(&self, entry: &Entry) -> String {
        let path = self.layout.log(&entry.stem);
        path.strip_prefix(&self.layout.root)
            .map_or(path.clone(), Path::to_path_buf)
            .display()
            .to_string()
    }

    /// Kills whatever the slot's users still run and removes scratch trees a stopped worker left.
    /// Done after a failed worker, and for every slot when the batch ends.
    pub fn clean_slot(&self, slot: u32) {
        let index = usize::try_from(slot).map_or(usize::MAX, |s| s.saturating_sub(1));
        for uid in self.slot_uids.get(index).into_iter().flatten() {
            let _ = sandbox::kill_all_of_user(*uid);
        }
        if let Ok(entries) = std::fs::read_dir(self.slot_scratch(slot)) {
            for entry in entries.flatten() {
                engine::scratch::remove_leftovers(&entry.path());
            }
        }
    }
}

/// `exited with status 3`, `was killed by signal 9`.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => "ended".to_string(),
    }
}
