//! A deadline for a whole run of a tool: if the run has not finished by then, print why on
//! the stdout the tool started with (even if fd 1 was redirected since) and exit 1. It is a
//! failure deadline, never a way to wait for something.

use rustix::fd::AsFd;
use std::sync::mpsc;
use std::time::Duration;

/// Armed while alive; dropping it disarms.
#[derive(Debug)]
pub struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

/// Exit 1 with `message` unless the returned guard is dropped within `limit`.
pub fn arm(limit: Duration, message: String) -> Watchdog {
    let out = rustix::io::fcntl_dupfd_cloexec(std::io::stdout().as_fd(), 10).ok();
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            let line = format!("{message}\n");
            match &out {
                Some(fd) => {
                    let _ = rustix::io::write(fd, line.as_bytes());
                }
                None => print!("{line}"),
            }
            std::process::exit(1);
        }
    });
    Watchdog { _disarm: tx }
}
