//! The `scenario` kind on a real server and real clients (grader/tests/scenario/: an echo server
//! over a Unix socket, its lab file): every step kind holds on a correct server, and each broken
//! variant fails at the step that shows its mistake, with that step's hint. As root the check
//! that runs a client as a second user runs for real; otherwise it must be skipped, never passed.

mod support;

use std::path::PathBuf;

use support::{grade, is_root, replace_in, repo_root, variant};

fn lab() -> PathBuf {
    repo_root().join("grader/tests/scenario/lab.toml")
}

fn echo() -> PathBuf {
    repo_root().join("grader/tests/scenario/echo")
}

#[test]
fn a_correct_server_passes_every_step() {
    let graded = grade(&echo(), Some(&lab()));
    assert_eq!(graded.outcome("echo"), "passed", "{}", graded.stdout);
    assert_eq!(graded.outcome("clients"), "passed", "{}", graded.stdout);
    if is_root() {
        assert_eq!(graded.outcome("other-user"), "passed", "{}", graded.stdout);
        assert_eq!(graded.score(), 6.0);
        assert_eq!(graded.code, 0);
    } else {
        assert_eq!(graded.outcome("other-user"), "skipped", "{}", graded.stdout);
        assert!(graded.output("other-user").contains("needs root"));
        assert_eq!(graded.score(), 4.0);
    }
}

#[test]
fn a_spinning_server_fails_the_cpu_step_with_its_hint() {
    let dir = variant(&echo(), |d| {
        // Its worker threads spin instead of waiting (the thread count stays the same).
        replace_in(
            d,
            "server.py",
            "target=stop.wait",
            "target=lambda: [None for _ in iter(int, 1)]",
        )
    });
    let graded = grade(dir.path(), Some(&lab()));
    assert_eq!(graded.outcome("echo"), "failed", "{}", graded.stdout);
    let out = graded.output("echo");
    assert!(out.contains("step 6 (proc server)"), "{out}");
    assert!(out.contains("of a CPU"), "{out}");
    assert!(
        out.contains("must block in accept()"),
        "the step's own hint: {out}"
    );
    assert_eq!(graded.outcome("clients"), "passed", "{}", graded.stdout);
}

#[test]
fn a_server_that_never_says_ready_fails_the_wait_and_shows_what_it_printed() {
    let dir = variant(&echo(), |d| {
        replace_in(
            d,
            "server.py",
            "print(f\"ready {os.getpid()}\"",
            "print(f\"starting {os.getpid()}\"",
        )
    });
    let graded = grade(dir.path(), Some(&lab()));
    let out = graded.output("echo");
    assert_eq!(graded.outcome("echo"), "failed", "{}", graded.stdout);
    assert!(out.contains("step 2 (wait server)"), "{out}");
    assert!(out.contains("not yet a stdout line matching"), "{out}");
    assert!(out.contains("starting"), "what it printed is shown: {out}");
    assert!(out.contains("handout: 1 Echo"), "the check's hint: {out}");
    // The other checks wait for the socket, not the line.
    assert_eq!(graded.outcome("clients"), "passed", "{}", graded.stdout);
}

#[test]
fn a_wrong_reply_fails_the_connect_and_every_client() {
    let dir = variant(&echo(), |d| {
        replace_in(d, "server.py", "b\"echo: \"", "b\"ECHO: \"")
    });
    let graded = grade(dir.path(), Some(&lab()));
    let echo_out = graded.output("echo");
    assert!(echo_out.contains("step 4 (connect"), "{echo_out}");
    assert!(echo_out.contains("not the expected text"), "{echo_out}");
    let clients = graded.output("clients");
    assert!(clients.contains("step 4 (expect client)"), "{clients}");
    assert!(clients.contains("does not match"), "{clients}");
    // The steps so far, in the failure: the eight copies waited at a start gate and were let go
    // at one moment.
    assert!(
        clients.contains(" x8") && clients.contains("released together"),
        "{clients}"
    );
    assert_eq!(graded.code, 1);
}

#[test]
fn a_server_that_logs_nothing_fails_the_log_step() {
    let dir = variant(&echo(), |d| {
        replace_in(
            d,
            "server.py",
            "out.write(json.dumps(",
            "out.write(\"\" and json.dumps(",
        )
    });
    let graded = grade(dir.path(), Some(&lab()));
    let out = graded.output("echo");
    assert!(out.contains("step 9 (log"), "{out}");
    assert!(out.contains("has 0 lines"), "{out}");
}

#[test]
fn the_ready_descriptor_says_ready_and_its_silence_is_a_failure() {
    // The lab needs no submission files: both servers are inline commands.
    let empty = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        empty.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let graded = grade(
        empty.path(),
        Some(&repo_root().join("grader/tests/scenario/ready.toml")),
    );
    assert_eq!(graded.outcome("says-ready"), "passed", "{}", graded.stdout);
    assert_eq!(graded.outcome("never-ready"), "failed", "{}", graded.stdout);
    let out = graded.output("never-ready");
    assert!(
        out.contains("not yet a byte on its ready descriptor ($IPC_LAB_READY_FD)"),
        "{out}"
    );
}
