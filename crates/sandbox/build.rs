//! Tells the tests whether they are built as root: root-only tests are then marked
//! `#[cfg_attr(not(ipc_lab_root), ignore = "needs root")]`, so without root the test runner
//! itself counts them as ignored (never as passed); tests that another suite runs as root say
//! `#[cfg_attr(ipc_lab_root, ignore = "...")]`. The monitor and proxy tools use this script too. `sudo` changes these variables, so a build
//! as another user re-runs this script.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ipc_lab_root)");
    for var in ["USER", "SUDO_UID", "HOME"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc_geteuid() } == 0 {
        println!("cargo::rustc-cfg=ipc_lab_root");
    }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
