//! The attacker of a race case: a thread that swaps a link between two targets in a tight loop
//! while the cat opens it. Each swap makes a new link and renames it over the old one, so the
//! name always exists and only its target changes.
//!
//! The thread only ever writes inside the link's own directory, and it never panics: a failed
//! swap stops it and is reported when it is stopped.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};

/// A running swapper; [`Swapper::stop`] (or dropping it) ends the loop.
#[derive(Debug)]
pub struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Swapper {
    /// Starts swapping `link` between `targets`. `link` must exist and be writable by the grader.
    pub fn start(link: &Path, targets: [String; 2]) -> Swapper {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let link = link.to_path_buf();
        let fresh: PathBuf = link.with_file_name(format!(
            ".{}.swap",
            link.file_name()
                .map_or("link".into(), |n| n.to_string_lossy())
        ));
        let thread = {
            let (stop, swaps) = (Arc::clone(&stop), Arc::clone(&swaps));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for target in &targets {
                        symlink(target, &fresh)
                            .and_then(|()| std::fs::rename(&fresh, &link))
                            .map_err(|e| format!("swapping {}: {e}", link.display()))?;
                        swaps.fetch_add(1, Ordering::Relaxed);
                        // Leave the CPU to the runs being raced: on a small machine a swapper
                        // that never yields slows every run down more than it adds swaps.
                        thread::yield_now();
                    }
                }
                Ok(())
            })
        };
        Swapper {
            stop,
            swaps,
            thread: Some(thread),
        }
    }

    /// Stops the loop; returns how many swaps it made, or why it failed.
    pub fn stop(mut self) -> Result<u64, String> {
        self.halt()?;
        Ok(self.swaps.load(Ordering::Relaxed))
    }

    fn halt(&mut self) -> Result<(), String> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(message))) => Err(message),
            Some(Err(_)) => Err("the swapping thread panicked".into()),
        }
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}
