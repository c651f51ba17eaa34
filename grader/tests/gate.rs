//! The start gate of scenario copies (`sandbox::gate`), with the real `grader` executable as its
//! trampoline: processes started behind a closed gate all wait at it, none runs its program
//! before the gate opens, all run it once it does, and one that comes after passes at once.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use sandbox::gate::{GATE_ARG, Gate};

#[test]
fn copies_behind_a_gate_wait_for_it_and_all_go_when_it_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gate = Gate::with_trampoline(dir.path(), support::grader_exe().to_path_buf())
        .expect("a closed gate");
    let marker = dir.path().join("ran");
    let start = |n: usize| {
        Command::new(support::grader_exe())
            .arg(GATE_ARG)
            .arg(gate.path())
            .args(["--", "sh", "-c"])
            .arg(format!("echo copy {n}; echo {n} >> '{}'", marker.display()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn behind the gate")
    };
    let mut copies: Vec<_> = (0..3).map(start).collect();
    let gate_path = gate.path().to_path_buf();
    // Opens once the kernel lists all three as waiting for it; until then none has run.
    let waiting = gate.release(3, Duration::from_secs(60));
    // Three waiters at once: each was blocked before its exec, so none had run its program.
    assert_eq!(waiting, 3, "all three were waiting at the gate together");
    for (n, child) in copies.drain(..).enumerate() {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "copy {n}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("copy {n}\n"));
    }
    let ran = std::fs::read_to_string(&marker).expect("the copies ran");
    assert_eq!(ran.lines().count(), 3, "{ran}");
    // A late comer passes an open gate at once.
    let late = Command::new(support::grader_exe())
        .arg(GATE_ARG)
        .arg(&gate_path)
        .args(["--", "true"])
        .status()
        .expect("late comer");
    assert!(late.success());
}
