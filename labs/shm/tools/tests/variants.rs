//! The broken variants of tests/variants/ (data: variants.toml), each shown to have its flaw:
//! the patch is applied to a copy of the reference, the copy is built and installed, and the
//! attack that the handout section teaches is run against it, for real. The lab's own test
//! `lab` shows the reference resisting the same attacks. As root these trials are skipped:
//! grader/tests/labs.rs then grades every variant through the grader (killer-anyone included).

mod common;

use common::*;
use libtest_mimic::{Arguments, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const VARIANTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/variants");

/// Copy the reference, apply `NAME.patch`, install. The builds share one target directory.
fn variant(name: &str) -> Result<PathBuf, libtest_mimic::Failed> {
    // One shared target directory, where cargo sees every variant as the same package: copy,
    // patch, build and install one variant at a time, so that each copy is newer than the
    // last build (cargo then rebuilds) and no build overwrites another's binaries.
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shm-variants");
    let src = base.join(name).join("src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).map_err(|e| fail(e.to_string()))?;
    let reference = PathBuf::from(format!("{LAB}/reference"));
    for item in ["Cargo.toml", "Cargo.lock", "src"] {
        let st = Command::new("cp")
            .arg("-r")
            .arg(reference.join(item))
            .arg(&src)
            .status()
            .map_err(|e| fail(e.to_string()))?;
        if !st.success() {
            return Err(fail(format!("cp {item} failed")));
        }
    }
    let patch =
        std::fs::File::open(format!("{VARIANTS}/{name}.patch")).map_err(|e| fail(e.to_string()))?;
    let out = Command::new("patch")
        .args(["-s", "-p1", "-d"])
        .arg(&src)
        .stdin(patch)
        .output()
        .map_err(|e| fail(format!("patch: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "{name}.patch does not apply: {}",
            String::from_utf8_lossy(&out.stdout)
        )));
    }
    install(&src, &base.join(name).join("bin"), &base.join("target")).map_err(fail)
}

fn breaks(name: &'static str, attack: &'static str) -> R {
    let bin = variant(name)?;
    let place = Place::new();
    let workers = if attack == "flood" { 1 } else { 2 };
    let _server = Server::start(&bin, &place, workers, None)?;
    let (code, out) = run_tool(
        HOSTILE,
        &["--deadline", "15", "attack", attack],
        &bin,
        &place,
        Duration::from_secs(40),
    )?;
    if code == Some(1) && out.starts_with("BROKEN") {
        return Ok(());
    }
    Err(fail(format!(
        "variant {name}: {attack} should break it, got exit {code:?}, {out:?}"
    )))
}

fn spins(name: &'static str) -> R {
    let bin = variant(name)?;
    let place = Place::new();
    let server = Server::start(&bin, &place, 4, None)?;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let mut all_asleep = true;
        for t in std::fs::read_dir(format!("/proc/{}/task", server.pid()))
            .map_err(|e| fail(e.to_string()))?
            .flatten()
        {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            all_asleep &= stat
                .rsplit_once(") ")
                .is_some_and(|(_, r)| r.starts_with('S'));
        }
        if all_asleep {
            return Err(fail(format!(
                "variant {name}: every thread of the idle server slept"
            )));
        }
        std::thread::yield_now();
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    // As root, grader/tests/labs.rs grades every variant of variants.toml through the grader,
    // whose checks run these same attacks (killer-anyone, which needs root, only there): running
    // them here too would grade each variant twice, so they are skipped and counted as such.
    let graded_by_the_grader = rustix::process::geteuid().is_root();
    let _ = Path::new(VARIANTS);
    let mut trials = Vec::new();
    for (name, attack) in [
        ("fd-fallback", "foreign-fd"),
        ("double-fetch", "len-race"),
        ("no-range-check", "len-range"),
        ("no-seals", "shrink"),
        ("trust-pid", "pid-lie"),
        ("panic-on-unknown-cmd", "bad-cmd"),
        ("no-cleanup", "die-mid-job"),
    ] {
        trials.push(Trial::test(
            format!("variant_{name}_broken_by_{attack}"),
            move || breaks(name, attack),
        ));
    }
    trials.push(Trial::test("variant_spin-wait_never_sleeps", || {
        spins("spin-wait")
    }));
    let trials = trials
        .into_iter()
        .map(|t| t.with_ignored_flag(graded_by_the_grader))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
