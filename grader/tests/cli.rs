//! The grader's command line: documented exit codes, clear errors, no stale reports.

mod support;

use predicates::prelude::*;

#[test]
fn help_documents_the_exit_codes() {
    let mut cmd = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("grader"));
    cmd.args(["grade", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "0  every check with points passed",
        ))
        .stdout(predicate::str::contains(
            "1  some check with points failed or was skipped",
        ))
        .stdout(predicate::str::contains("2  the grader could not grade"));
}

#[test]
fn a_missing_submission_is_exit_2_and_removes_a_stale_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stale = dir.path().join("results.json");
    std::fs::write(&stale, r#"{"score": 25}"#).expect("write");
    let mut cmd = assert_cmd::Command::from_std(support::grader());
    cmd.arg("grade")
        .arg(dir.path().join("no-such-repo"))
        .arg("--json")
        .arg(&stale)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not exist"))
        .stderr(predicate::str::contains("fix:"))
        // Machines reading the last line find a grade line in every case.
        .stdout(predicate::str::ends_with(
            "GRADE: none (the grader could not grade: see the error above)\n",
        ));
    assert!(
        !stale.exists(),
        "an exit-2 run must not leave an older grade behind"
    );
}

#[test]
fn labs_lists_every_built_in_lab_and_lab_takes_an_id() {
    let mut cmd = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("grader"));
    let out = cmd
        .arg("labs")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out);
    for id in [
        "ipc", "original", "ipc-2b", "shm", "monitor", "deputy", "proxy",
    ] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(id)),
            "{id} missing from:\n{text}"
        );
    }
    // `grader grade --help` names every one of them too.
    let mut cmd = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("grader"));
    let help = cmd
        .args(["grade", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8_lossy(&help).replace(char::is_whitespace, "");
    assert!(
        help.contains("liststhem:ipc,original,ipc-2b,shm,monitor,deputy,proxy)"),
        "{help}"
    );
    let mut cmd = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("grader"));
    cmd.args(["check-lab", "shm"])
        .assert()
        .success()
        .stdout(predicate::str::contains("30 points"));
    let mut cmd = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("grader"));
    cmd.args(["grade", "--lab", "no-such-lab", "."])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "neither a lab file nor a built-in lab",
        ))
        .stderr(predicate::str::contains("ipc, original"));
}

#[test]
fn the_c_edition_graded_as_the_rust_lab_is_told_which_lab_it_is() {
    let graded = support::grade(&support::submissions().join("original"), None);
    assert!(
        graded.stdout.contains(
            "it looks like the `original` lab, not `ipc`. Grade it with `--lab original`"
        ),
        "{}",
        graded.stdout
    );
    // And the right lab says nothing of the kind.
    let right = support::grade(
        &support::submissions().join("original"),
        Some(std::path::Path::new("original")),
    );
    assert!(!right.stdout.contains("it looks like"), "{}", right.stdout);
}

#[test]
fn a_bad_lab_file_is_exit_2_with_file_line_and_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = dir.path().join("lab.toml");
    let text = include_str!("../../labs/ipc/lab.toml").replacen(
        "points = 2\nkind = \"build\"",
        "points = -2\nkind = \"build\"",
        1,
    );
    std::fs::write(&lab, text).expect("write");
    let mut cmd = assert_cmd::Command::from_std(support::grader());
    cmd.arg("grade")
        .arg(dir.path())
        .arg("--lab")
        .arg(&lab)
        .assert()
        .code(2)
        .stdout(predicate::str::diff(
            "GRADE: none (the grader could not grade: see the error above)\n",
        ))
        .stderr(predicate::str::contains("lab.toml:"))
        .stderr(predicate::str::contains("points must be zero or more"))
        .stderr(predicate::str::contains("fix:"));
}

#[test]
fn check_lab_accepts_every_shipped_lab() {
    for lab in ["lab.toml", "original.toml", "lab-2b.toml"] {
        let path = support::repo_root().join("labs/ipc").join(lab);
        let mut cmd = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("grader"));
        cmd.arg("check-lab")
            .arg(&path)
            .assert()
            .success()
            .stdout(predicate::str::contains("checks"));
    }
}
