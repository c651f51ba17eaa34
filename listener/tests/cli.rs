//! Tests of the command line itself: help text and usage errors. None of
//! these start a listener that waits for signals.

use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;

#[test]
fn help_explains_the_exit_codes() {
    cargo_bin_cmd!("listener")
        .arg("--help")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Listener PID")
                .and(predicate::str::contains("Exit codes"))
                .and(predicate::str::contains("0  SIGUSR1 received"))
                .and(predicate::str::contains("1  SIGINT received"))
                .and(predicate::str::contains("2  usage error")),
        );
}

#[test]
fn unknown_arguments_are_a_usage_error() {
    cargo_bin_cmd!("listener")
        .arg("--no-such-option")
        // Only reached if the listener ignored the bad option and waited.
        .timeout(Duration::from_secs(10))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("--no-such-option"));
}
