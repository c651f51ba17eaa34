//! The users lock: root grading runs that share the lab's users take turns, because each ends by
//! killing every process of those users. The holder writes who it is into the lock file; a run
//! that has to wait says so at once on stderr (who holds it, since when, for how long it will
//! wait), then waits in the kernel (a blocking `flock` on a thread of its own) for at most
//! [`give_up_after`] and gives up with an error instead of hanging.
//!
//! This is the one place the engine prints by itself: a run may wait here for minutes before
//! any report exists. It must never trust a lock file it did not make (the grader's own user's, or replaced)
//! and never wait without a bound.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{FlockOperation, flock};

/// Seconds a run waits for the users lock before it gives up; default [`DEFAULT_WAIT`].
pub const WAIT_VAR: &str = "GRADER_LOCK_WAIT";

/// How long a run waits for the lock when [`WAIT_VAR`] is not set: far longer than one grade
/// takes (seconds to a minute), short enough that a hung holder is noticed.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot take the users lock {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "gave up after waiting {waited} s for the users lock {path}, held by {holder}\n  fix: wait for that run to end, or end it if it hangs (kill the pid above); set {WAIT_VAR} (seconds) to wait longer"
    )]
    TimedOut {
        path: String,
        holder: String,
        waited: u64,
    },
}

/// How long to wait: [`WAIT_VAR`] when it holds a number of seconds, else [`DEFAULT_WAIT`].
pub fn give_up_after() -> Duration {
    std::env::var(WAIT_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_WAIT, Duration::from_secs)
}

/// Takes the lock at `path`, waiting at most `limit` for its holder.
pub fn take(path: &Path, limit: Duration) -> Result<File, LockError> {
    let shown = path.display().to_string();
    let io_err = |source| LockError::Io {
        path: shown.clone(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && (!meta.is_file() || meta.uid() != rustix::process::geteuid().as_raw())
    {
        std::fs::remove_file(path).map_err(io_err)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(io_err)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let holder = holder_of(&mut file);
            eprintln!(
                "grader: waiting for another grading run to finish: {holder} holds {shown} (giving up after {} s; {WAIT_VAR} sets it)",
                limit.as_secs()
            );
            wait_for(&file, limit).map_err(|e| match e {
                Waited::Io(source) => io_err(source),
                Waited::TimedOut => LockError::TimedOut {
                    path: shown.clone(),
                    holder,
                    waited: limit.as_secs(),
                },
            })?;
        }
        Err(e) => return Err(io_err(e.into())),
    }
    write_holder(&mut file).map_err(io_err)?;
    Ok(file)
}

enum Waited {
    Io(io::Error),
    TimedOut,
}

/// A blocking `flock` on a duplicate of `file` (the same open file, so the lock is `file`'s),
/// on a thread of its own so that the wait has a bound. A lock the thread gets after the bound
/// is given back at once.
fn wait_for(file: &File, limit: Duration) -> Result<(), Waited> {
    let dup = file.try_clone().map_err(Waited::Io)?;
    let abandoned = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let gave_up = Arc::clone(&abandoned);
    std::thread::spawn(move || {
        let got = flock(dup.as_fd(), FlockOperation::LockExclusive);
        if gave_up.load(Ordering::SeqCst) {
            let _ = flock(dup.as_fd(), FlockOperation::Unlock);
        }
        let _ = tx.send(got);
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Waited::Io(e.into())),
        Err(_) => {
            abandoned.store(true, Ordering::SeqCst);
            // The thread may have got the lock just now, before it saw the flag.
            if let Ok(Ok(())) = rx.try_recv() {
                return Ok(());
            }
            Err(Waited::TimedOut)
        }
    }
}

/// Who holds the lock: the process the kernel names in /proc/locks for this file, with its
/// command line, and how long it has held it when it is the run the file names.
fn holder_of(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind();
    let _ = file.take(4096).read_to_string(&mut text);
    let field = |key: &str| {
        text.split_ascii_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let named_pid = field("pid=");
    let since = field("since=");
    let Some(pid) = file.metadata().ok().and_then(|m| lock_owner(m.ino())) else {
        return "another process".to_string();
    };
    let command = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|part| !part.is_empty())
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let mut shown = format!("pid {pid}");
    if !command.is_empty() {
        shown.push_str(&format!(" (`{command}`)"));
    }
    if named_pid == Some(u64::from(pid)) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if let Some(since) = since {
            shown.push_str(&format!(", for {} s", now.saturating_sub(since)));
        }
    }
    shown
}

/// The pid the kernel gives for the `flock` lock on inode `ino`, from /proc/locks
/// (`1: FLOCK  ADVISORY  WRITE 6258 00:1f:12345 0 EOF`).
fn lock_owner(ino: u64) -> Option<u32> {
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let is_flock = fields.get(1) == Some(&"FLOCK");
        let on_it = fields
            .get(5)
            .and_then(|dev_ino| dev_ino.rsplit(':').next())
            .and_then(|i| i.parse::<u64>().ok())
            == Some(ino);
        if is_flock && on_it {
            fields.get(4)?.parse().ok()
        } else {
            None
        }
    })
}

/// Writes `pid=<pid> since=<unix seconds> command=<this command line>` into the lock file.
fn write_holder(file: &mut File) -> io::Result<()> {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let command: Vec<String> = std::env::args().collect();
    file.set_len(0)?;
    file.rewind()?;
    writeln!(
        file,
        "pid={} since={since} command={}",
        std::process::id(),
        command.join(" ")
    )?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_times_out_and_names_its_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("users.lock");
        let first = take(&path, Duration::from_secs(1)).expect("first take");
        // A second open file of the same path conflicts with the first, as another process's.
        let second = take(&path, Duration::from_millis(200));
        match second {
            Err(LockError::TimedOut { holder, .. }) => {
                assert!(
                    holder.contains(&format!("pid {}", std::process::id())),
                    "{holder}"
                );
            }
            other => panic!("expected a time-out, got {other:?}"),
        }
        drop(first);
        take(&path, Duration::from_secs(5)).expect("free again");
    }
}
