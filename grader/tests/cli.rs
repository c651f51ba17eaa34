//! The grader's command line: documented exit codes, clear errors, no stale reports.

mod support;

use predicates::prelude::*;

#[test]
fn help_documents_the_exit_codes() {
    let mut cmd = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("grader"));
    cmd.args(["grade", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0  every check passed"))
        .stdout(predicate::str::contains(
            "1  some check failed or was skipped",
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
        .stderr(predicate::str::contains("fix:"));
    assert!(
        !stale.exists(),
        "an exit-2 run must not leave an older grade behind"
    );
}

#[test]
fn a_bad_lab_file_is_exit_2_with_file_line_and_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = dir.path().join("lab.toml");
    let text = grader::lab::EMBEDDED_IPC_LAB.replacen(
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
        .stdout(predicate::str::is_empty())
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
