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
        .arg("--colour")
        .write_stdin("treasure.txt\n")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("unexpected argument"));
    lab.cat().arg("treasure.txt").assert().code(2);
}

#[test]
fn help_lists_the_three_modes() {
    let lab = Lab::new();
    lab.cat().arg("--help").assert().code(0).stdout(
        predicate::str::contains("vulnerable  the flaw above (default)")
            .and(predicate::str::contains(
                "lexical     the original handout's check",
            ))
            .and(predicate::str::contains("RESOLVE_BENEATH")),
    );
}

#[test]
fn an_unknown_mode_is_a_usage_error_naming_the_modes() {
    let lab = Lab::new();
    lab.cat()
        .args(["--mode", "safe"])
        .write_stdin("treasure.txt\n")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("vulnerable, lexical, beneath"));
    // A mode needs its value.
    lab.cat().arg("--mode").assert().code(2).stdout("");
}
