//! Part 2b end to end: `grader depth` on the lab's own cat produces the table the corpus expects
//! (the command fails on any cell that does not), the handout holds exactly that table, and the
//! bonus lab (labs/ipc/lab-2b.toml) gives the reference its 5 points and takes them from a cat
//! whose "fix" is the string check.
//!
//! As root the confined user's half runs for real; otherwise it must say it was not run, and the
//! tests say, loudly, what they skipped.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use grader::depth::table;
use support::{grade, grader, is_root, repo_root};

const HANDOUT: &str = "labs/ipc/handout/2b-defense-in-depth.md";

/// The cat-sandbox binary of this workspace, built with the same profile as the grader under
/// test (a test of one package does not build another package's binaries).
fn cat_binary() -> &'static Path {
    static CAT: OnceLock<PathBuf> = OnceLock::new();
    CAT.get_or_init(|| {
        let grader_exe = Path::new(env!("CARGO_BIN_EXE_grader"));
        let profile_dir = grader_exe.parent().expect("target/<profile>");
        let target_dir = profile_dir.parent().expect("target");
        let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        build
            .current_dir(repo_root())
            .args([
                "build",
                "--quiet",
                "-p",
                "cat-sandbox",
                "--bin",
                "cat-sandbox",
            ])
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p cat-sandbox failed");
        profile_dir.join("cat-sandbox")
    })
}

struct Depth {
    code: i32,
    stdout: String,
    stderr: String,
}

fn depth(args: &[&str]) -> Depth {
    let started = std::time::Instant::now();
    let out = grader()
        .arg("depth")
        .arg("--cat")
        .arg(cat_binary())
        .args(args)
        .output()
        .expect("run grader depth");
    eprintln!(
        "grader depth {args:?}: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Depth {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The table row of a case (by its title) in one half of the block.
fn row<'a>(half: &'a str, title: &str) -> Vec<&'a str> {
    let line = half
        .lines()
        .find(|l| l.contains(&format!("| {title} |")))
        .unwrap_or_else(|| panic!("no row `{title}` in:\n{half}"));
    line.split(" | ").map(str::trim).collect()
}

#[test]
fn the_table_matches_the_corpus_and_the_handout() {
    let run = depth(&[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let block = table::extract(&run.stdout).expect("the output holds the table");
    let (owner, confined) = block
        .split_once(table::CONFINED_HEADING)
        .expect("two halves");

    // The claims, read off the owner's half: columns are # | stdin | title | modes.
    let cells = |title: &str| -> Vec<String> {
        row(owner, title)[3..6]
            .iter()
            .map(|c| c.trim_end_matches(" |").to_string())
            .collect()
    };
    assert_eq!(
        cells("the lab's exploit: one level up"),
        [
            "**ESCAPES**",
            "MEOW: Sandbox escaped (prefix check)",
            "MEOW: Leaves the litterbox (kernel refused)"
        ]
    );
    for title in [
        "a sibling directory whose name starts with `litterbox`",
        "a link in the litterbox pointing outside",
    ] {
        let c = cells(title);
        assert_eq!(c[1], "**ESCAPES**", "lexical must fail on: {title}");
        assert!(c[2].starts_with("MEOW"), "beneath must refuse: {title}");
    }
    let race = cells("a link swapped between the treasure and the secret during the open");
    assert!(
        race[1].contains("**ESCAPES**") && !race[2].contains("**ESCAPES**"),
        "{race:?}"
    );
    assert_eq!(
        cells("a FIFO in the litterbox (nobody ever writes to it)"),
        ["hangs", "hangs", "MEOW: Not a regular file"]
    );

    let handout = std::fs::read_to_string(repo_root().join(HANDOUT)).expect("read the handout");
    let shown = table::extract(&handout).expect("the handout holds a generated table");
    let (shown_owner, _) = shown
        .split_once(table::CONFINED_HEADING)
        .expect("two halves");
    let fix = format!("regenerate it: sudo cargo run -p grader -- depth --update {HANDOUT}");
    assert_eq!(
        shown_owner, owner,
        "the handout's table is out of date; {fix}"
    );
    if is_root() {
        assert!(!confined.contains("ESCAPES**, run by run"), "{confined}");
        assert!(
            confined.contains("no input reached a file outside the litterbox, in any mode"),
            "{confined}"
        );
        assert_eq!(shown, block, "the handout's table is out of date; {fix}");
    } else {
        assert!(confined.contains("Not run"), "{confined}");
        eprintln!(
            "SKIPPED (partly): the confined user's half of the table and its comparison with the handout need root"
        );
    }
    // The measured rates follow the table, outside it.
    assert!(run.stdout.contains("race `race`"), "{}", run.stdout);
}

#[test]
fn a_missing_cat_is_a_clear_error() {
    let out = grader()
        .args(["depth", "--cat", "/nonexistent/cat-sandbox"])
        .output()
        .expect("run grader depth");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no cat to test at /nonexistent/cat-sandbox"),
        "{stderr}"
    );
    assert!(stderr.contains("fix:"), "{stderr}");
}

#[test]
fn a_wrong_cat_is_marked_and_fails() {
    // A "cat" whose every mode is the string check: the beneath column must show ✗.
    // Everything in a directory both lab users may enter.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let executable = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(dir.path(), executable.clone()).expect("chmod");
    let cat = dir.path().join("cat-sandbox");
    std::fs::copy(cat_binary(), &cat).expect("copy the cat");
    let script = dir.path().join("lexical-everywhere");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec '{}' --mode lexical\n", cat.display()),
    )
    .expect("write script");
    std::fs::set_permissions(&script, executable).expect("chmod");
    let out = grader()
        .arg("depth")
        .arg("--cat")
        .arg(&script)
        .args(["--race-runs", "40"])
        .output()
        .expect("run grader depth");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let block = table::extract(&stdout).expect("table");
    let (owner, _) = block.split_once(table::CONFINED_HEADING).expect("halves");
    let sibling = row(
        owner,
        "a sibling directory whose name starts with `litterbox`",
    );
    assert!(sibling[5].starts_with("✗ escapes"), "{sibling:?}");
    // As garfield, even this cat reaches nothing outside the litterbox.
    if is_root() {
        assert!(
            block.contains("no input reached a file outside the litterbox, in any mode"),
            "{block}"
        );
    }
}

#[test]
fn the_bonus_lab_grades_behaviour() {
    // One test, so the two grades of the same path never share its build copy at once.
    let lab = repo_root().join("labs/ipc/lab-2b.toml");
    let graded = grade(&repo_root(), Some(&lab));
    assert_eq!(graded.lost(), Vec::<String>::new(), "{}", graded.stdout);
    assert_eq!(graded.score(), 5.0, "{}", graded.stdout);
    assert_eq!(graded.code, 0, "{}", graded.stdout);
    assert!(
        graded.stdout.trim_end().ends_with("GRADE: 5/5 (100.00%)"),
        "{}",
        graded.stdout
    );

    // A submission whose `beneath` is the string check, and whose `lexical` is the confined
    // open: made by swapping the two program lines in a copy of the lab next to its corpus.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(&lab).expect("read lab");
    let swapped = text
        .replace("\"--mode\", \"lexical\"]", "\"--mode\", \"LEXICAL\"]")
        .replace("\"--mode\", \"beneath\"]", "\"--mode\", \"lexical\"]")
        .replace("\"--mode\", \"LEXICAL\"]", "\"--mode\", \"beneath\"]");
    assert_ne!(swapped, text, "test setup: the program lines changed");
    std::fs::write(dir.path().join("lab-2b.toml"), swapped).expect("write lab");
    std::fs::copy(
        repo_root().join("labs/ipc/traversal.toml"),
        dir.path().join("traversal.toml"),
    )
    .expect("copy corpus");
    let graded = grade(&repo_root(), Some(&dir.path().join("lab-2b.toml")));
    assert_eq!(
        graded.lost(),
        ["beneath-corpus", "beneath-race", "lexical-port"],
        "{}",
        graded.stdout
    );
    let beneath = graded.output("beneath-corpus");
    for needle in ["sibling", "outside-link", "escapes", "string-prefix check"] {
        assert!(beneath.contains(needle), "`{needle}` not in:\n{beneath}");
    }
    // The names were this run's, and the report says so.
    assert!(beneath.contains("this run's token was"), "{beneath}");
    let race = graded.output("beneath-race");
    assert!(race.contains("escapes"), "{race}");
    eprintln!(
        "beneath-race with the string check: {}",
        race.lines().next().unwrap_or_default()
    );
}

#[test]
fn the_bonus_hints_name_real_handout_sections() {
    let headings = support::handout::headings();
    let lab = grader::lab::Lab::load(
        &repo_root().join("labs/ipc/lab-2b.toml"),
        grader::catalog::registry().kinds(),
    )
    .expect("valid");
    for check in &lab.checks {
        let hint = check.hint.as_deref().unwrap_or_default();
        let named = support::handout::references(hint);
        assert!(
            !named.is_empty(),
            "check `{}`: its hint names no section",
            check.id
        );
        for section in named {
            assert!(
                headings.contains(&section),
                "check `{}`: no section `{section}`",
                check.id
            );
        }
    }
}
