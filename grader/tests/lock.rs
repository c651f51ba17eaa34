//! A root grading run that finds the machine-wide users lock held says so at once, names the
//! holder, and gives up after the time `GRADER_LOCK_WAIT` sets, with exit 2 and the `GRADE: none`
//! last line, instead of waiting without a word.

mod support;

use std::time::{Duration, Instant};

use engine::grade::{USERS_LOCK, lock_users};

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root: only root grading runs take the users lock"
)]
fn a_run_that_finds_the_lock_held_says_who_holds_it_and_gives_up() {
    // Held by this process: an open file of the lock, as another grading run's would be.
    let held = lock_users(std::path::Path::new(USERS_LOCK)).expect("take the users lock");
    let started = Instant::now();
    let out = support::grader()
        .env("GRADER_LOCK_WAIT", "1")
        .args(["grade", "--lab", "original"])
        .arg(support::submissions().join("original"))
        .output()
        .expect("run the grader");
    let waited = started.elapsed();
    drop(held);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("waiting for another grading run to finish")
            && stderr.contains(&format!("pid {}", std::process::id())),
        "{stderr}"
    );
    assert!(stderr.contains("gave up after waiting 1 s"), "{stderr}");
    assert!(
        stdout
            .trim_end()
            .lines()
            .last()
            .unwrap_or("")
            .starts_with("GRADE: none ("),
        "{stdout}"
    );
    assert!(waited < Duration::from_secs(30), "took {waited:?}");
}
