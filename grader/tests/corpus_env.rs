//! The grader under bad input: a broken lab file, a missing or unreadable submission, no sandbox
//! user and no way to make one, no root, no toolchain, a full scratch disk. Each must end with
//! exit status 2 and a message saying what was wrong and what to do, write no report, and print
//! no grade it did not measure. (Without root, the grader grades what it can and says so: the
//! checks that need the sandbox user are skipped, never passed.)
//!
//! The cases that need root (another user, a mount namespace) say so and are skipped otherwise.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{grader, is_root, repo_root, submissions};

const NOBODY: u32 = 65534;

fn original_lab() -> PathBuf {
    repo_root().join("labs/ipc/original.toml")
}

#[derive(Debug)]
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `grader-dev`, the developers' tool (the reliability runner), with the grader's environment.
fn grader_dev() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("grader-dev"));
    for (key, value) in grader().get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    cmd
}

fn ran(command: &mut Command) -> Ran {
    let out = command.output().expect("run the grader");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A copy of the C/Python lab file in `dir`, for runs as `nobody`: the checkout itself may sit
/// below a directory only root can enter (e.g. under /root).
fn lab_anyone_can_read(dir: &Path) -> PathBuf {
    let lab = dir.join("original.toml");
    std::fs::copy(original_lab(), &lab).expect("copy the lab file");
    std::fs::set_permissions(&lab, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    lab
}

/// A directory for reports (and other scratch) that anyone may write, so runs as `nobody` can too.
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ipc-lab-env-test-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

/// `grader grade` with both reports asked for in `reports`.
fn grade_command(submission: &Path, lab: &Path, reports: &Path) -> Command {
    let mut command = grader();
    command
        .arg("grade")
        .arg(submission)
        .arg("--lab")
        .arg(lab)
        .arg("--json")
        .arg(reports.join("results.json"))
        .arg("--junit")
        .arg(reports.join("junit.xml"));
    command
}

/// Exit 2, a message with `what` and a way out, no grade printed, no report written.
fn assert_refused(run: &Ran, reports: &Path, what: &str) {
    assert_eq!(run.code, 2, "exit status; stderr:\n{}", run.stderr);
    assert!(
        run.stderr.contains(what),
        "the message should say `{what}`:\n{}",
        run.stderr
    );
    assert!(
        [
            "fix:",
            "fix ",
            "run the grader",
            "do it by hand",
            "create",
            "install",
            "make sure"
        ]
        .iter()
        .any(|way| run.stderr.contains(way)),
        "the message should say what to do:\n{}",
        run.stderr
    );
    assert!(
        run.stdout
            .lines()
            .all(|l| !l.starts_with("GRADE:") || l.starts_with("GRADE: none")),
        "no grade may be printed (only `GRADE: none`):\n{}",
        run.stdout
    );
    for report in ["results.json", "junit.xml"] {
        assert!(
            !reports.join(report).exists(),
            "{report} must not be written when nothing was graded"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(reports)
        .expect("read reports dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        leftovers.is_empty(),
        "half-written files left: {leftovers:?}"
    );
}

#[test]
fn a_malformed_lab_file_is_refused_with_its_line() {
    let reports = open_dir();
    let lab = reports.path().join("broken.toml");
    let text = std::fs::read_to_string(original_lab()).expect("lab");
    std::fs::write(&lab, text.replacen("[build]", "[build", 1)).expect("write");
    let run = ran(&mut grade_command(
        &submissions().join("original"),
        &lab,
        reports.path(),
    ));
    std::fs::remove_file(&lab).expect("rm");
    let line = text
        .lines()
        .position(|l| l == "[build]")
        .expect("a [build] table")
        + 1;
    assert_refused(&run, reports.path(), &format!("broken.toml:{line}:"));
}

#[test]
fn a_half_valid_lab_file_is_refused_naming_the_mistake() {
    let reports = open_dir();
    let lab = reports.path().join("half.toml");
    let text = std::fs::read_to_string(original_lab()).expect("lab");
    let half = text.replacen(
        "kind = \"build\"\n",
        "kind = \"build\"\ncolour = \"red\"\n",
        1,
    );
    assert_ne!(half, text, "test setup: the build check is where it was");
    std::fs::write(&lab, half).expect("write");
    let run = ran(&mut grade_command(
        &submissions().join("original"),
        &lab,
        reports.path(),
    ));
    std::fs::remove_file(&lab).expect("rm");
    assert_refused(&run, reports.path(), "colour");
}

#[test]
fn a_missing_submission_is_refused() {
    let reports = open_dir();
    let missing = reports.path().join("no-such-repository");
    let run = ran(&mut grade_command(
        &missing,
        &original_lab(),
        reports.path(),
    ));
    assert_refused(&run, reports.path(), "does not exist");
}

#[test]
fn a_file_instead_of_a_submission_is_refused() {
    let reports = open_dir();
    let run = ran(&mut grade_command(
        &submissions().join("original/cat.py"),
        &original_lab(),
        reports.path(),
    ));
    assert_refused(&run, reports.path(), "not a directory");
}

#[test]
fn an_unreadable_submission_is_refused() {
    let reports = open_dir();
    let locked = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let lab_dir = open_dir();
    let lab = lab_anyone_can_read(lab_dir.path());
    let mut command = grade_command(locked.path(), &lab, reports.path());
    if is_root() {
        // Root reads everything; the grader run by an ordinary user meets the locked door.
        command.uid(NOBODY).gid(NOBODY).env("HOME", "/nonexistent");
    }
    let run = ran(&mut command);
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    assert_refused(&run, reports.path(), "cannot be read");
}

#[test]
fn no_toolchain_on_the_path_is_refused_naming_the_tool() {
    let reports = open_dir();
    let empty = tempfile::tempdir().expect("tempdir");
    let mut command = grade_command(
        &submissions().join("original"),
        &original_lab(),
        reports.path(),
    );
    command.env("GRADER_TOOL_PATH", empty.path());
    let run = ran(&mut command);
    assert_refused(&run, reports.path(), "`make` is needed");
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn no_sandbox_user_and_no_way_to_make_one_is_refused() {
    let reports = open_dir();
    let lab = reports.path().join("other-user.toml");
    let text = std::fs::read_to_string(original_lab()).expect("lab");
    let user = "ipc-lab-nouser-test";
    assert!(
        uzers::get_user_by_name(user).is_none(),
        "{user} must not exist"
    );
    std::fs::write(
        &lab,
        text.replacen(
            "confined = \"garfield\"",
            &format!("confined = \"{user}\""),
            1,
        ),
    )
    .expect("write");
    // /etc read-only, as in a container built without the users: useradd cannot work.
    let mut command = Command::new("unshare");
    command.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount --bind /etc /etc && mount -o remount,bind,ro /etc && exec \"$@\"",
        "sh",
    ]);
    let inner = grade_command(&submissions().join("original"), &lab, reports.path());
    command.arg(inner.get_program()).args(inner.get_args());
    command.envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let run = ran(&mut command);
    std::fs::remove_file(&lab).expect("rm");
    assert_refused(&run, reports.path(), user);
    assert!(
        run.stderr.contains("useradd"),
        "names the command to run:\n{}",
        run.stderr
    );
    assert!(uzers::get_user_by_name(user).is_none());
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn a_full_scratch_disk_is_refused_and_leaves_nothing() {
    let reports = open_dir();
    let scratch = tempfile::tempdir().expect("tempdir");
    // A 1 MiB file system, filled up, in a mount namespace of the test's own.
    let mut command = Command::new("unshare");
    command.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount -t tmpfs -o size=1m tmpfs \"$0\" && { head -c 2M /dev/zero > \"$0/filler\"; } 2>/dev/null; \
         \"$@\"; code=$?; ls -A \"$0\" >&2; exit $code",
    ]);
    command.arg(scratch.path());
    let mut inner = grade_command(
        &submissions().join("original"),
        &original_lab(),
        reports.path(),
    );
    inner.arg("--scratch-dir").arg(scratch.path());
    command.arg(inner.get_program()).args(inner.get_args());
    command.envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
    let run = ran(&mut command);
    assert_refused(&run, reports.path(), "No space left on device");
    assert!(run.stderr.contains("free space"), "{}", run.stderr);
    let listed: Vec<&str> = run
        .stderr
        .lines()
        .rev()
        .take_while(|l| !l.contains("fix:"))
        .collect();
    assert_eq!(
        listed,
        vec!["filler"],
        "only the filler is left in the scratch disk"
    );
}

#[test]
fn without_root_the_sandbox_checks_are_skipped_never_passed() {
    let reports = open_dir();
    let copy = open_dir();
    support::copy_tree(&submissions().join("original"), copy.path());
    let lab_dir = open_dir();
    let lab = lab_anyone_can_read(lab_dir.path());
    let mut command = grade_command(copy.path(), &lab, reports.path());
    if is_root() {
        for entry in walk(copy.path()) {
            let mode = if entry.is_dir() { 0o755 } else { 0o644 };
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        command
            .uid(NOBODY)
            .gid(NOBODY)
            .env("HOME", "/nonexistent")
            .env("TMPDIR", reports.path())
            .env("PATH", "/usr/bin:/bin")
            .env_remove("GRADER_TOOL_PATH")
            .env_remove("GRADER_VENDOR_DIR")
            .env_remove("GRADER_CACHE_DIR");
    }
    let run = ran(&mut command);
    assert_eq!(
        run.code, 1,
        "a skipped check is never a pass:\n{}",
        run.stderr
    );
    assert!(run.stdout.contains("Not root"), "{}", run.stdout);
    assert_eq!(
        run.stdout.lines().last(),
        Some("GRADE: 21/25 (84.00%)"),
        "{}",
        run.stdout
    );
    let json = std::fs::read_to_string(reports.path().join("results.json")).expect("json");
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid");
    for id in ["dd-refused", "dd-treasure"] {
        let check = report["tests"]
            .as_array()
            .expect("tests")
            .iter()
            .find(|t| t["extra_data"]["id"] == id)
            .expect("check");
        assert_eq!(check["extra_data"]["outcome"], "skipped");
        assert!(
            check["output"]
                .as_str()
                .unwrap_or_default()
                .contains("needs root")
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.extend(walk(&path));
        } else {
            all.push(path);
        }
    }
    all
}

#[test]
fn the_reliability_command_refuses_what_it_cannot_do() {
    let reports = open_dir();
    let run = ran(grader_dev()
        .arg("reliability")
        .arg("--corpus")
        .arg(reports.path().join("no-corpus.toml")));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no-corpus.toml"), "{}", run.stderr);

    let readme = reports.path().join("README.md");
    std::fs::write(&readme, "# x\n").expect("write");
    let run = ran(grader_dev()
        .arg("reliability")
        .arg("--only")
        .arg("cat-raises")
        .arg("--update-readme")
        .arg(&readme));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("whole corpus"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&readme).expect("read"), "# x\n");

    let run = ran(grader_dev()
        .current_dir(repo_root())
        .arg("reliability")
        .arg("--only")
        .arg("no-such-entry"));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no-such-entry"), "{}", run.stderr);
}
