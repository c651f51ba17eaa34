//! Tells this crate's tests whether they are built as root (`cfg(ipc_lab_root)`), so the trials
//! that `grader/tests/labs.rs` runs through the grader as root are marked ignored there and the
//! test runner counts them as skipped, never as passed. `sudo` changes these variables, so a
//! build as another user re-runs this script.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ipc_lab_root)");
    for var in ["USER", "SUDO_UID", "HOME"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { geteuid() } == 0 {
        println!("cargo::rustc-cfg=ipc_lab_root");
    }
}

unsafe extern "C" {
    fn geteuid() -> u32;
}
