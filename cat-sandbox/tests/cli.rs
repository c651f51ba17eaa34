//! The command line itself: help text and usage errors.

mod lab;

use lab::Lab;
use predicates::prelude::*;

#[test]
fn help_explains_the_flaw_and_the_exit_statuses() {
    let lab = Lab::new();
    lab.cat().arg("--help").assert().code(0).stdout(
        predicate::str::contains("./litterbox/<name>")
            .and(predicate::str::contains("DELIBERATELY VULNERABLE"))
            .and(predicate::str::contains("garfield"))
            .and(predicate::str::contains("MEOW <reason>: <path tried>"))
            .and(predicate::str::contains("set -e"))
            .and(predicate::str::contains("2  usage error")),
    );
}

#[test]
fn unknown_arguments_are_usage_errors() {
    let lab = Lab::new();
    lab.cat()
        .arg("--mode")
        .write_stdin("treasure.txt\n")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("unexpected argument"));
    lab.cat().arg("treasure.txt").assert().code(2);
}
