//! Shared by the lab's integration tests: building submission-shaped directories (the
//! starter, the reference, the reference with one file replaced) offline, and running a
//! `monitor-check` check against one as a lab user (uid/gid 20731 when the tests run as
//! root, the current user otherwise).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The lab's directory (labs/monitor).
pub fn lab() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory holding the tool binaries of this build.
pub fn tools() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_monitor-check"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

static BUILD: Mutex<()> = Mutex::new(());

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let name = e.file_name();
        if name == "target" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type().expect("type").is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// Builds `labs/monitor/<which>` (with `replace` = (path inside, file of the lab) applied)
/// as `name`; returns the directory holding its monitor, server and client.
pub fn build(name: &str, which: &str, replace: Option<(&str, &str)>) -> PathBuf {
    let _g = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let src = tmp.join("submissions").join(name);
    let _ = std::fs::remove_dir_all(&src);
    copy_tree(&lab().join(which), &src);
    if let Some((inside, file)) = replace {
        std::fs::copy(lab().join(file), src.join(inside)).expect("replace file");
    }
    let target = tmp.join("submission-target");
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--offline",
            "--quiet",
            "--manifest-path",
        ])
        .arg(src.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bins = tmp.join("bins").join(name);
    std::fs::create_dir_all(&bins).expect("mkdir bins");
    for b in ["monitor", "server", "client"] {
        std::fs::copy(target.join("release").join(b), bins.join(b)).expect("copy binary");
    }
    bins
}

/// Whether the tests run as root (then checks run as uid/gid 20731: a uid no other lab of
/// this repository uses, so another lab's test that cleans up "its" uid cannot kill ours).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The lab user the checks run as when the tests are root.
pub const LAB_UID: u32 = 30731;

/// A scratch directory the lab user can write.
pub fn scratch() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    if is_root() {
        std::os::unix::fs::chown(d.path(), Some(LAB_UID), Some(LAB_UID)).expect("chown");
    }
    d
}

/// Runs `monitor-check <what>` against `bins` as lab.toml does (the student's monitor, or for
/// `server` and `client` the lab's monitor-refmon with the student's program); returns
/// (passed, stdout).
pub fn check(what: &str, bins: &Path, seed: u64) -> (bool, String) {
    let dir = scratch();
    let monitor = match what {
        "server" | "client" => tools().join("monitor-refmon"),
        _ => bins.join("monitor"),
    };
    let program = match what {
        "client" => bins.join("client"),
        _ => bins.join("server"),
    };
    let mut cmd = Command::new(tools().join("monitor-check"));
    cmd.arg(what)
        .arg("--monitor")
        .arg(monitor)
        .arg("--dir")
        .arg(dir.path())
        .arg("--seed")
        .arg(seed.to_string())
        .arg("--program")
        .arg(program);
    if is_root() {
        use std::os::unix::process::CommandExt;
        // std drops the supplementary groups (setgroups) before setgid/setuid when root.
        cmd.gid(LAB_UID).uid(LAB_UID);
    }
    let out = cmd.output().expect("run monitor-check");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code();
    {
        use std::os::unix::process::ExitStatusExt;
        assert!(
            matches!(code, Some(0 | 1)),
            "monitor-check {what} ended with {:?} (signal {:?}): {stdout}{}",
            code,
            out.status.signal(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (code == Some(0), stdout)
}

/// Every check `monitor-check` knows.
pub const CHECKS: [&str; 10] = [
    "methods", "corpus", "matrix", "audit", "reply", "forge", "blocking", "server", "client",
    "dynamic",
];

/// The checks that fail for `bins` (each run with `seed`).
pub fn failing(bins: &Path, seed: u64) -> Vec<&'static str> {
    CHECKS
        .iter()
        .copied()
        .filter(|c| !check(c, bins, seed).0)
        .collect()
}
