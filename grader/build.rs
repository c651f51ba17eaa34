//! Tells the tests what the machine they are built on can do, so tests it cannot run are marked
//! ignored and the test runner itself counts them as skipped (never as passed):
//! - `ipc_lab_root`: built as root; root-only tests say
//!   `#[cfg_attr(not(ipc_lab_root), ignore = "needs root")]`. `sudo` changes these variables, so a
//!   build as another user re-runs this script.
//! - `ipc_lab_browser`: `chromium` is on PATH, for the tests that render the class report in a
//!   real browser. When `CI` or `IPC_LAB_REQUIRE_BROWSER` is set (and not `0` or `false`) it is
//!   set anyway, so there a missing browser fails the test instead of skipping it.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ipc_lab_root)");
    println!("cargo::rustc-check-cfg=cfg(ipc_lab_browser)");
    for var in [
        "USER",
        "SUDO_UID",
        "HOME",
        "PATH",
        "CI",
        "IPC_LAB_REQUIRE_BROWSER",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc_geteuid() } == 0 {
        println!("cargo::rustc-cfg=ipc_lab_root");
    }
    match on_path("chromium") {
        Some(found) => {
            println!("cargo::rerun-if-changed={}", found.display());
            println!("cargo::rustc-cfg=ipc_lab_browser");
        }
        None => {
            // Where Debian's package puts it: installing it there re-runs this script.
            println!("cargo::rerun-if-changed=/usr/bin");
            if required("CI") || required("IPC_LAB_REQUIRE_BROWSER") {
                println!("cargo::rustc-cfg=ipc_lab_browser");
            }
        }
    }
}

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// The first executable file called `name` in a directory of PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|file| {
            std::fs::metadata(file)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
