//! What /proc says about a process: parent, group, session, state, owners, signal dispositions
//! and CPU time.
//!
//! Only reads. Every answer can be stale the moment it is returned (the process may exit and its
//! pid be reused), so callers that act on a pid must pin it first (see `sweep`).

use std::fs;
use std::time::Duration;

/// The fields of /proc/<pid>/stat the sandbox uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ProcStat {
    /// One letter: R, S, D, Z (zombie: exited, not yet reaped), T, X ...
    pub state: u8,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    /// Clock ticks (USER_HZ) in user and kernel mode.
    pub utime: u64,
    pub stime: u64,
    /// Clock ticks of the children this process has waited for (their whole lives).
    pub cutime: u64,
    pub cstime: u64,
}

impl ProcStat {
    /// Exited (or being torn down): it can no longer be signalled, only reaped.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Reads /proc/<pid>/stat; None when the process is gone.
pub(super) fn stat(pid: i32) -> Option<ProcStat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses a stat line. The command name (field 2) may hold spaces and parentheses, so the fields
/// are counted from the last `)`.
fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = text.get(text.rfind(')')? + 1..)?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    // tty_nr, tpgid, flags, minflt, cminflt, majflt, cmajflt come before utime.
    let mut fields = fields.skip(7);
    let utime = fields.next()?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    let cutime = fields.next()?.parse().ok()?;
    let cstime = fields.next()?.parse().ok()?;
    Some(ProcStat {
        state,
        ppid,
        pgrp,
        session,
        utime,
        stime,
        cutime,
        cstime,
    })
}

/// Every pid in /proc (thread-group leaders only: threads live under /proc/<pid>/task).
pub(super) fn all_pids() -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Every live descendant of `root` (not `root` itself), from the `children` lists of each thread
/// (/proc/<pid>/task/<tid>/children): in a pod, whose processes all descend from its init, this
/// reads a few files where `all_pids` would read one per process of the machine. None when the
/// kernel has no such lists or `root` is gone; then the caller looks at every pid.
pub(super) fn descendants(root: i32) -> Option<Vec<i32>> {
    let children_of = |pid: i32| -> Option<Vec<i32>> {
        let mut kids = Vec::new();
        for task in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
            if let Ok(text) = fs::read_to_string(task.path().join("children")) {
                kids.extend(
                    text.split_ascii_whitespace()
                        .filter_map(|n| n.parse::<i32>().ok()),
                );
            }
        }
        Some(kids)
    };
    // The root's own list must be readable: an empty answer must mean "no children".
    fs::metadata(format!("/proc/{root}/task/{root}/children")).ok()?;
    let mut found = children_of(root)?;
    let mut next = 0;
    // A pod's process count is bounded by its users' RLIMIT_NPROC; this bounds a bad answer.
    while next < found.len() && found.len() < 1 << 16 {
        // A process that ended between two reads has no list: it has no children either.
        for kid in children_of(found[next]).unwrap_or_default() {
            if !found.contains(&kid) {
                found.push(kid);
            }
        }
        next += 1;
    }
    Some(found)
}

/// The text of /proc/<pid>/status; None when the process is gone.
pub(super) fn status(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// A hexadecimal signal mask line of a status text, e.g. `SigCgt` (caught) or `SigIgn` (ignored).
/// Bit N-1 stands for signal N.
pub(super) fn signal_mask(status: &str, key: &str) -> Option<u64> {
    let value = field(status, key)?;
    u64::from_str_radix(value.trim(), 16).ok()
}

/// The real, effective, saved and filesystem uids of a status text.
pub(super) fn uids(status: &str) -> Option<[u32; 4]> {
    let mut ids = field(status, "Uid")?.split_ascii_whitespace();
    let mut out = [0; 4];
    for slot in &mut out {
        *slot = ids.next()?.parse().ok()?;
    }
    Some(out)
}

fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == key).then_some(value)
    })
}

/// CPU time used so far by every live thread of `pid`: the sum of the first field of each
/// /proc/<pid>/task/<tid>/schedstat (nanoseconds on a CPU), so a busy thread next to an idle main
/// thread is not missed. Falls back to utime+stime of /proc/<pid>/stat (10 ms ticks) on kernels
/// without schedstat.
pub(super) fn cpu_time(pid: i32) -> Option<Duration> {
    if let Some(nanos) = schedstat_nanos(pid) {
        return Some(Duration::from_nanos(nanos));
    }
    let stat = stat(pid)?;
    // USER_HZ, the unit of these fields, is 100 on every Linux architecture the grader runs on.
    let ticks = stat.utime + stat.stime;
    Some(Duration::from_millis(ticks * 10))
}

/// Time every live thread of `pid` has spent on a CPU or runnable and waiting for one (the first
/// two fields of each thread's schedstat). A busy loop accrues its whole wall time here even when
/// the machine is too loaded to give it a CPU, which CPU time alone does not show; a process
/// asleep in the kernel accrues none. None on kernels without schedstat.
pub(super) fn cpu_demand(pid: i32) -> Option<Duration> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    let mut seen = false;
    for task in tasks.flatten() {
        let Ok(text) = fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let mut fields = text.split_ascii_whitespace().map(|n| n.parse::<u64>().ok());
        if let (Some(Some(on_cpu)), Some(Some(waiting))) = (fields.next(), fields.next()) {
            total = total.saturating_add(on_cpu).saturating_add(waiting);
            seen = true;
        }
    }
    seen.then(|| Duration::from_nanos(total))
}

fn schedstat_nanos(pid: i32) -> Option<u64> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    let mut seen = false;
    for task in tasks.flatten() {
        let Ok(text) = fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        if let Some(nanos) = text
            .split_ascii_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
        {
            total = total.saturating_add(nanos);
            seen = true;
        }
    }
    seen.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_finds_children_and_grandchildren_and_nothing_else() {
        // sh, its child sh, and that one's sleep; the outer sh waits, the inner one too.
        let mut top = std::process::Command::new("sh")
            .args(["-c", "sh -c 'sleep 600 & wait' & wait"])
            .spawn()
            .expect("sh");
        let root = top.id() as i32;
        let until = std::time::Instant::now() + Duration::from_secs(20);
        let mut found = descendants(root).expect("children lists");
        while found.len() < 2 && std::time::Instant::now() < until {
            found = descendants(root).expect("children lists");
        }
        let parents: Vec<i32> = found
            .iter()
            .map(|&p| stat(p).expect("alive").ppid)
            .collect();
        for &pid in &found {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = top.kill();
        let _ = top.wait();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(!found.contains(&root));
        assert_eq!(parents[0], root, "the child first");
        assert_eq!(parents[1], found[0], "then the grandchild");
        assert!(descendants(i32::MAX).is_none(), "no such process");
    }

    #[test]
    fn stat_line_with_spaces_and_parentheses_in_the_name_parses() {
        let line = "4242 (a b) (c)) S 1 4242 4242 0 -1 4194560 10 0 0 0 7 3 0 0 20 0 1 0";
        let stat = parse_stat(line).expect("parses");
        assert_eq!(
            stat,
            ProcStat {
                state: b'S',
                ppid: 1,
                pgrp: 4242,
                session: 4242,
                utime: 7,
                stime: 3,
                cutime: 0,
                cstime: 0
            }
        );
    }

    #[test]
    fn masks_and_uids_come_from_status_lines() {
        let status = "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nSigIgn:\t0000000000000004\n\
                      SigCgt:\t0000000000010002\n";
        assert_eq!(signal_mask(status, "SigCgt"), Some(0x10002));
        assert_eq!(signal_mask(status, "SigIgn"), Some(0x4));
        assert_eq!(uids(status), Some([1000; 4]));
        assert_eq!(signal_mask(status, "SigBlk"), None);
    }

    #[test]
    fn own_process_is_visible() {
        let me = std::process::id() as i32;
        let stat = stat(me).expect("own stat");
        assert!(!stat.is_dead());
        assert!(all_pids().contains(&me));
        assert!(cpu_time(me).is_some());
    }
}
