//! The grader on real submissions: the reference solution and the original C/Python edition score
//! full marks, and each broken variant loses exactly the points of its mistake, with a hint that
//! names it. Student programs really run; as root (CI) they run as the lab's unprivileged users
//! and the distrustful-decomposition checks run for real; otherwise those checks must be reported
//! as skipped, never passed.

mod support;

use std::path::{Path, PathBuf};

use support::{grade, is_root, replace_in, repo_root, submissions, variant};

const ROOT_ONLY: [&str; 2] = ["dd-refused", "dd-treasure"];

fn original_lab() -> PathBuf {
    repo_root().join("labs/ipc/original.toml")
}

fn assert_last_line_is_grade(stdout: &str, score: f64) {
    let last = stdout.lines().last().unwrap_or_default();
    let want = format!("GRADE: {}/25 ({:.2}%)", score, score * 4.0);
    assert_eq!(last, want, "last line of:\n{stdout}");
}

/// Checks lost by a submission whose only mistakes are `lost`, given who is grading.
fn expected_lost(lost: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = lost.iter().map(|s| s.to_string()).collect();
    if !is_root() {
        all.extend(ROOT_ONLY.iter().map(|s| s.to_string()));
    }
    all.sort();
    all.dedup();
    all
}

fn points_of(graded: &support::Graded, ids: &[String]) -> f64 {
    ids.iter()
        .map(|id| graded.check(id)["max_score"].as_f64().expect("max"))
        .sum()
}

#[test]
fn reference_solution_scores_full_marks() {
    let graded = grade(&repo_root(), None);
    if is_root() {
        assert_eq!(graded.lost(), Vec::<String>::new(), "{}", graded.stdout);
        assert_eq!(graded.code, 0);
        assert_last_line_is_grade(&graded.stdout, 25.0);
    } else {
        assert_eq!(graded.lost(), expected_lost(&[]), "{}", graded.stdout);
        for id in ROOT_ONLY {
            assert_eq!(graded.outcome(id), "skipped");
            assert!(
                graded.output(id).contains("needs root"),
                "{}",
                graded.output(id)
            );
        }
        assert_eq!(graded.code, 1, "a skipped check is never a pass");
        assert_last_line_is_grade(&graded.stdout, 21.0);
        eprintln!("SKIPPED (partly): the distrustful-decomposition checks need root");
    }
}

#[test]
fn original_c_and_python_edition_scores_full_marks() {
    let graded = grade(&submissions().join("original"), Some(&original_lab()));
    assert_eq!(graded.lost(), expected_lost(&[]), "{}", graded.stdout);
    if is_root() {
        assert_eq!(graded.code, 0);
        assert_last_line_is_grade(&graded.stdout, 25.0);
    }
}

/// Grades the original submission with one edit and checks exactly what it loses.
fn broken(edit: impl FnOnce(&Path), lost: &[&str], hint_in: &str, hint: &str) -> support::Graded {
    let dir = variant(&submissions().join("original"), edit);
    let graded = grade(dir.path(), Some(&original_lab()));
    let want = expected_lost(lost);
    assert_eq!(graded.lost(), want, "{}", graded.stdout);
    assert_eq!(
        graded.score(),
        25.0 - points_of(&graded, &want),
        "{}",
        graded.stdout
    );
    assert_eq!(graded.code, 1);
    let shown = graded.output(hint_in);
    assert!(
        shown.contains(hint),
        "hint for {hint_in} should mention `{hint}`:\n{shown}"
    );
    assert_last_line_is_grade(&graded.stdout, graded.score());
    graded
}

#[test]
fn listener_exiting_0_on_sigint_loses_that_check() {
    broken(
        |d| replace_in(d, "listener.c", "return_code = 1;", "return_code = 0;"),
        &["sigint-exit"],
        "sigint-exit",
        "expected exit status 1",
    );
}

#[test]
fn listener_without_sigusr1_handler_is_told_so() {
    let g = broken(
        |d| {
            replace_in(
                d,
                "listener.c",
                " || signal(SIGUSR1, on_sigusr1) == SIG_ERR",
                "",
            )
        },
        &["sigusr1-exit", "sigusr1-message"],
        "sigusr1-message",
        "never caught",
    );
    assert!(
        !g.output("sigusr1-exit").contains("killed by"),
        "{}",
        g.output("sigusr1-exit")
    );
}

#[test]
fn busy_waiting_listener_loses_idle() {
    broken(
        |d| replace_in(d, "listener.c", "pause();", "while (!caught) { }"),
        &["idle"],
        "idle",
        "busy-waiting",
    );
}

#[test]
fn listener_that_never_exits_is_killed_at_its_deadline() {
    broken(
        |d| replace_in(d, "listener.c", "pause();", "for (;;) pause();"),
        &[
            "listener-pid",
            "sigint-exit",
            "sigint-message",
            "sigusr1-exit",
            "sigusr1-message",
        ],
        "sigusr1-exit",
        "still running",
    );
}

#[test]
fn listener_printing_its_parents_pid_is_told_so() {
    broken(
        |d| replace_in(d, "listener.c", "(int)getpid()", "(int)getppid()"),
        &["listener-pid"],
        "listener-pid",
        "parent",
    );
}

#[test]
fn build_failure_skips_what_depends_on_it() {
    let g = broken(
        |d| replace_in(d, "listener.c", "pause();", "pause()"),
        &[
            "build",
            "idle",
            "listener-pid",
            "sigint-exit",
            "sigint-message",
            "sigusr1-exit",
            "sigusr1-message",
        ],
        "build",
        "error",
    );
    assert_eq!(g.outcome("sigint-exit"), "skipped");
    assert!(g.output("sigint-exit").contains("`build` did not pass"));
}

#[test]
fn cat_that_fixed_the_flaw_loses_only_the_exploit_check() {
    let g = broken(
        |d| {
            replace_in(
                d,
                "cat.py",
                "try:\n",
                "try:\n    if '..' in name:\n        raise ValueError('no escaping the litterbox')\n",
            )
        },
        &["exploit"],
        "exploit",
        "flaw",
    );
    if is_root() {
        assert_eq!(g.outcome("dd-refused"), "passed");
    }
}

#[test]
fn cat_printing_to_stderr_is_told_so() {
    broken(
        |d| {
            replace_in(
                d,
                "cat.py",
                "print(found.read())",
                "print(found.read(), file=sys.stderr)",
            )
        },
        &["dd-treasure", "exploit", "treasure"],
        "treasure",
        "stderr",
    );
}

#[test]
fn hard_coded_treasure_fails_because_fixtures_are_randomised() {
    broken(
        |d| {
            replace_in(
                d,
                "cat.py",
                "print(found.read())",
                "print('Treasure found!')",
            )
        },
        &["dd-treasure", "exploit", "treasure"],
        "treasure",
        "this run",
    );
}

#[test]
fn cat_keeping_the_newline_is_told_to_strip_it() {
    broken(
        |d| replace_in(d, "cat.py", "sys.stdin.read().strip()", "sys.stdin.read()"),
        &["dd-treasure", "exploit", "treasure"],
        "treasure",
        "newline",
    );
}

#[test]
fn a_forged_grade_line_changes_nothing() {
    let g = broken(
        |d| {
            replace_in(
                d,
                "cat.py",
                "name = sys.stdin",
                "print('GRADE: 25/25 (100.00%)')\nname = sys.stdin",
            )
        },
        &[
            "dd-refused",
            "dd-treasure",
            "exploit",
            "missing-file",
            "treasure",
        ],
        "treasure",
        "GRADE: 25/25",
    );
    assert!(g.score() < 25.0);
}
