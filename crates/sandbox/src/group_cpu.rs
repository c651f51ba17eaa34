//! The CPU a whole run uses: its main process, every process of the run still alive, and the
//! processes of the run that already ended and were reaped. A listener that pauses while a child
//! it forked spins, or a fork bomb whose main process gets a 64th of a CPU, is measured whole.
//!
//! Which processes belong to a run: in a pod with its own PID namespace, every process of that
//! namespace but its init (a pod runs one program at a time); elsewhere the main process and its
//! descendants (a daemon that double-forks away from it is not seen there: the pods are what
//! makes this exact). Reads /proc only; it must never signal or wait for anything.

use std::collections::HashMap;
use std::fs;
use std::time::Duration;

use super::procfs;

/// What to add up for each live thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Time on a CPU.
    Time,
    /// Time on a CPU or runnable and waiting for one: what the run asked of the CPUs, whatever
    /// else the machine does (see `procfs::cpu_demand`). Time where the kernel has no schedstat.
    Demand,
}

/// The processes of the run whose main process is `main`; `pod_init` is the init of its pod when
/// that pod has a PID namespace of its own.
pub(super) fn members(main: i32, pod_init: Option<i32>) -> Vec<i32> {
    if let Some(init) = pod_init
        && let Some(mut found) = procfs::descendants(init)
    {
        // Every process of the pod's PID namespace descends from its init.
        if !found.contains(&main) {
            found.push(main);
        }
        return found;
    }
    if let Some(init) = pod_init
        && let Some(ns) = pid_namespace(init)
    {
        let mut found: Vec<i32> = procfs::all_pids()
            .into_iter()
            .filter(|&pid| pid != init && pid_namespace(pid).as_deref() == Some(ns.as_str()))
            .collect();
        if !found.contains(&main) {
            found.push(main);
        }
        return found;
    }
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for pid in procfs::all_pids() {
        if let Some(stat) = procfs::stat(pid) {
            children.entry(stat.ppid).or_default().push(pid);
        }
    }
    let mut found = vec![main];
    let mut next = 0;
    while next < found.len() {
        for &kid in children
            .get(&found[next])
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if !found.contains(&kid) {
                found.push(kid);
            }
        }
        next += 1;
    }
    found
}

/// The CPU of `members` now: each live thread's `measure`, plus the lives of the children they
/// (and `reaper`, the pod's init, which reaps the run's orphans) have waited for. Only the
/// difference of two readings means anything.
pub(super) fn total(members: &[i32], reaper: Option<i32>, measure: Measure) -> Duration {
    let mut total = Duration::ZERO;
    for &pid in members {
        let live = match measure {
            Measure::Demand => procfs::cpu_demand(pid).or_else(|| procfs::cpu_time(pid)),
            Measure::Time => procfs::cpu_time(pid),
        };
        total += live.unwrap_or_default();
    }
    for pid in members.iter().copied().chain(reaper) {
        if let Some(stat) = procfs::stat(pid) {
            // USER_HZ is 100 on every architecture the grader runs on.
            total += Duration::from_millis((stat.cutime + stat.cstime) * 10);
        }
    }
    total
}

/// The PID namespace of `pid`, as the kernel names it (`pid:[4026532]`).
fn pid_namespace(pid: i32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|link| link.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_child_counts_for_its_waiting_parent() {
        // The parent waits in the kernel; only its child spins.
        let mut parent = std::process::Command::new("sh")
            .args(["-c", "sh -c 'while :; do :; done' & wait"])
            .spawn()
            .expect("sh");
        let parent_pid = parent.id() as i32;
        let until = std::time::Instant::now() + Duration::from_secs(20);
        let mut found = members(parent_pid, None);
        while found.len() < 2 && std::time::Instant::now() < until {
            found = members(parent_pid, None);
        }
        assert_eq!(found.len(), 2, "{found:?}");
        let before = total(&found, None, Measure::Time);
        let mut after = before;
        while after < before + Duration::from_millis(30) && std::time::Instant::now() < until {
            after = total(&found, None, Measure::Time);
        }
        let parent_alone = procfs::cpu_time(parent_pid).unwrap_or_default();
        for &pid in found.iter().filter(|&&p| p != parent_pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = parent.wait();
        assert!(
            after >= before + Duration::from_millis(30),
            "{before:?} -> {after:?}"
        );
        assert!(parent_alone < Duration::from_millis(30), "{parent_alone:?}");
    }
}
