//! What backs a job buffer in this process: the mapping that contains it (from
//! /proc/self/maps) and a descriptor of the same file, if this process has one or can open
//! one. The snoop and shrink attacks need both.
//!
//! It only reads /proc and opens what the mapping names; it never writes memory.

use rustix::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;

/// One line of /proc/self/maps.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub start: usize,
    pub end: usize,
    pub inode: u64,
    pub path: String,
}

/// The mapping that contains `addr`.
pub fn containing(addr: usize) -> Option<Mapping> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    for line in maps.lines() {
        let mut it = line.split_whitespace();
        let range = it.next()?;
        let (_perms, _off, _dev) = (it.next()?, it.next()?, it.next()?);
        let inode: u64 = it.next()?.parse().ok()?;
        let path = it.collect::<Vec<_>>().join(" ");
        let (s, e) = range.split_once('-')?;
        let (s, e) = (
            usize::from_str_radix(s, 16).ok()?,
            usize::from_str_radix(e, 16).ok()?,
        );
        if (s..e).contains(&addr) {
            return Some(Mapping {
                start: s,
                end: e,
                inode,
                path,
            });
        }
    }
    None
}

/// A writable descriptor of the file behind `m`: one this process already holds, or the
/// file opened by its path (a shm_open object is a file in /dev/shm).
pub fn descriptor_of(m: &Mapping) -> Option<OwnedFd> {
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        for e in dir.flatten() {
            let p = e.path();
            if let Ok(md) = std::fs::metadata(&p)
                && md.ino() == m.inode
                && let Ok(f) = std::fs::OpenOptions::new().read(true).write(true).open(&p)
            {
                return Some(f.into());
            }
        }
    }
    if m.path.starts_with('/') && !m.path.ends_with("(deleted)") {
        return std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&m.path)
            .ok()
            .map(Into::into);
    }
    None
}
