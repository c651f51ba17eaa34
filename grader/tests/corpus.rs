//! The reliability corpus (tests/corpus/corpus.toml) graded by the real grader binary: every
//! entry must be graded exactly right (score, lost checks, hint, exit status, last line), and no
//! process may be left, no byte of a submission changed, no forged grade accepted, no file left
//! outside the scratch tree, no connection reach the host. As root (CI) the hostile entries run
//! too; otherwise they are listed as skipped. The README's reliability table must show the same
//! invariants as this fresh run (not the timings).
//!
//! One test runs the whole corpus: the runner counts every child of this process that outlives a
//! grade as a leftover, so nothing else in this binary may run processes at the same time.

mod support;

use std::ffi::OsString;

use grader_dev::{self as reliability, RunOptions, Summary};
use support::{grader, is_root, repo_root};

fn options() -> RunOptions {
    // The same grader binary and environment (toolchain, offline crates as root) as the other
    // integration tests use.
    let command = grader();
    let env: Vec<(OsString, OsString)> = command
        .get_envs()
        .filter_map(|(key, value)| Some((key.to_os_string(), value?.to_os_string())))
        .filter(|(key, _)| key != "GRADER_CACHE_DIR")
        .collect();
    RunOptions {
        corpus: repo_root().join("grader/tests/corpus/corpus.toml"),
        grader: command.get_program().into(),
        kinds: grader::catalog::registry().kinds().clone(),
        env,
        only: Vec::new(),
        progress: true,
    }
}

#[test]
fn the_corpus_is_graded_right_and_nothing_escapes() {
    let run = reliability::run(&options()).expect("the corpus runs");
    let summary = Summary::of(&run);
    eprintln!(
        "{}",
        reliability::markdown(&summary, "grader/tests/corpus/corpus.toml")
    );

    let skipped: Vec<&str> = run
        .entries
        .iter()
        .filter(|e| e.skipped.is_some())
        .map(|e| e.name.as_str())
        .collect();
    if !skipped.is_empty() {
        eprintln!(
            "SKIPPED: {} corpus entries need root (CI runs as root): {}",
            skipped.len(),
            skipped.join(", ")
        );
    }
    assert!(is_root() || summary.graded > 0, "nothing was graded");
    let wrong: Vec<String> = run
        .entries
        .iter()
        .filter(|e| !e.problems.is_empty())
        .map(|e| format!("{}: {}", e.name, e.problems.join("\n    ")))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} entries were not graded right:\n{}",
        wrong.len(),
        summary.graded,
        wrong.join("\n")
    );
    assert_eq!(summary.right, summary.graded);
    assert_eq!(summary.processes_left, 0);
    assert_eq!(summary.bytes_changed, 0);
    assert_eq!(summary.forged_accepted, 0);
    assert_eq!(summary.files_left, 0);
    assert_eq!(summary.ipc_left, 0);
    assert_eq!(summary.keys_left, 0);
    assert_eq!(summary.hung, 0);
    assert_eq!(summary.connections, 0);
    assert_eq!(summary.canary_hurt, 0);
    if is_root() {
        assert_eq!(summary.graded, summary.entries, "as root every entry runs");
    }

    readme_shows_the_same_invariants(&summary);
}

/// The README's table was produced by `grader-dev reliability --update-readme`; it must cover the
/// corpus as it is now and show the invariants this run holds.
fn readme_shows_the_same_invariants(summary: &Summary) {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let value = |row: &str| {
        reliability::readme_value(&readme, row).unwrap_or_else(|| {
            panic!(
                "README.md has no `{row}` row between {} and {}: run `grader-dev reliability --update-readme README.md` as root",
                reliability::README_START,
                reliability::README_END
            )
        })
    };
    let count = value(reliability::ROW_SUBMISSIONS);
    assert!(
        count.starts_with(&format!("{} (", summary.entries)),
        "README counts `{count}` submissions, the corpus has {}: rerun `grader-dev reliability --update-readme README.md`",
        summary.entries
    );
    let right = value(reliability::ROW_RIGHT);
    assert_eq!(
        right,
        format!("{0}/{0} (100 %)", summary.entries),
        "README's graded-right row"
    );
    for row in [
        reliability::ROW_PROCESSES,
        reliability::ROW_BYTES,
        reliability::ROW_FORGED,
    ] {
        assert_eq!(value(row), "0", "README's `{row}` row");
    }
}
