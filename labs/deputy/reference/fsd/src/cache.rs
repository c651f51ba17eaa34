//! Cached answers, one per client process (keyed by pidfs inode), each holding that process's
//! pidfd so the entry can be dropped the moment the process ends, and its uid so a revocation
//! can drop every answer given for that user. Bounded: the oldest entry goes first.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

const MAX_ENTRIES: usize = 1024;

#[derive(Debug)]
pub struct Entry {
    pub uid: u32,
    pub pidfd: OwnedFd,
    /// The litterbox descriptor permd granted, or None for a refusal.
    pub grant: Option<OwnedFd>,
    seq: u64,
}

#[derive(Debug, Default)]
pub struct Cache {
    entries: HashMap<u64, Entry>,
    seq: u64,
}

impl Cache {
    pub fn get(&self, ino: u64) -> Option<&Entry> {
        self.entries.get(&ino)
    }

    pub fn insert(&mut self, ino: u64, uid: u32, pidfd: OwnedFd, grant: Option<OwnedFd>) {
        if self.entries.len() >= MAX_ENTRIES
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.seq)
                .map(|(k, _)| *k)
        {
            self.entries.remove(&oldest);
        }
        self.seq += 1;
        let seq = self.seq;
        self.entries.insert(
            ino,
            Entry {
                uid,
                pidfd,
                grant,
                seq,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drop every answer given for `uid` (its permission changed).
    pub fn forget_uid(&mut self, uid: u32) {
        self.entries.retain(|_, e| e.uid != uid);
    }

    /// Drop the entries of processes that have ended (their pidfd polls readable).
    pub fn forget_exited(&mut self) {
        let keys: Vec<u64> = self.entries.keys().copied().collect();
        for chunk in keys.chunks(256) {
            let mut fds: Vec<PollFd<'_>> = chunk
                .iter()
                .filter_map(|k| self.entries.get(k))
                .map(|e| PollFd::new(e.pidfd.as_fd(), PollFlags::POLLIN))
                .collect();
            if poll(&mut fds, PollTimeout::ZERO).unwrap_or(0) == 0 {
                continue;
            }
            let gone: Vec<u64> = chunk
                .iter()
                .zip(fds.iter())
                .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(k, _)| *k)
                .collect();
            drop(fds);
            for k in gone {
                self.entries.remove(&k);
            }
        }
    }
}
