//! The handout cannot drift from the code: every transcript it shows is replayed against the real
//! programs, every quoted line is found in its source, its tables agree with labs/ipc/lab.toml,
//! and every section a hint names exists.
//!
//! Transcripts marked `root` need root (they change owners and run as garfield); elsewhere they
//! are reported as skipped, loudly, never as passed.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use grader::lab::Lab;
use support::handout::{self, Block, Programs, Repo, Session};
use support::repo_root;

fn lab() -> Lab {
    Lab::load(
        &repo_root().join("labs/ipc/lab.toml"),
        grader::catalog::registry().kinds(),
    )
    .expect("labs/ipc/lab.toml is valid")
}

/// Replays one transcript in a fresh copy of a student's repository; returns what went wrong.
fn replay(block: &Block) -> Result<(), String> {
    let programs = if block.has("starter") {
        Programs::Starter
    } else {
        Programs::Reference
    };
    let repo = Repo::new(programs);
    let mut session = Session::start(&repo.dir, &repo.tmp);
    for step in handout::steps(block) {
        session.run(&step)?;
    }
    Ok(())
}

/// The users the lab's root transcripts name, made the way the grader makes them.
fn ensure_lab_users() {
    let lab = lab();
    assert!(!lab.roles.is_empty(), "the lab names its users");
    for role in &lab.roles {
        let groups: Vec<&str> = role.groups.iter().map(String::as_str).collect();
        grader::privilege::ensure_user(&role.user, &groups).expect("the lab's user");
    }
}

/// Replays the console transcripts that are (`root`) or are not run as root.
fn replay_transcripts(as_root: bool) {
    let transcripts: Vec<Block> = handout::blocks()
        .into_iter()
        .filter(|b| b.info == "console" && b.has("root") == as_root)
        .collect();
    assert!(
        transcripts.len() >= if as_root { 1 } else { 10 },
        "only {} transcripts",
        transcripts.len()
    );
    if as_root {
        ensure_lab_users();
    }
    let mut failures = Vec::new();
    for block in &transcripts {
        if let Err(why) = replay(block) {
            failures.push(format!("{}: {why}", block.place()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
    eprintln!("replayed {} transcripts", transcripts.len());
}

#[test]
fn every_transcript_matches_the_real_programs() {
    replay_transcripts(false);
}

/// The transcripts that change owners and run as garfield.
#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn every_root_transcript_matches_the_real_programs() {
    replay_transcripts(true);
}

#[test]
fn blocks_are_of_known_kinds() {
    for block in handout::blocks() {
        let place = block.place();
        match block.info.as_str() {
            // Transcripts (replayed) and commands shown without output.
            "console" => {}
            "sh" => assert!(
                !block.body.lines().any(|l| l.starts_with("$ ")),
                "{place}: a `sh` block holds commands only; show output in a `console` block"
            ),
            "rust" => {}
            // Output that is not a transcript must say where it comes from.
            "text" => assert!(
                block.has("report"),
                "{place}: a `text` block must be a report excerpt (<!-- handout: report -->)"
            ),
            other => panic!("{place}: unexpected block kind `{other}`"),
        }
    }
}

/// Lines quoted from the repository's sources appear there, in order (`...` skips lines).
#[test]
fn quoted_source_lines_are_in_the_source() {
    let mut quoted = 0;
    for block in handout::blocks() {
        let Some(path) = block.path_after("excerpt") else {
            continue;
        };
        let source = std::fs::read_to_string(repo_root().join(path))
            .unwrap_or_else(|e| panic!("{}: cannot read {path}: {e}", block.place()));
        let trimmed =
            |text: &str| -> String { text.lines().map(str::trim).collect::<Vec<_>>().join("\n") };
        if let Err(why) = handout::excerpt_in(&trimmed(&block.body), &trimmed(&source)) {
            panic!(
                "{}: the quote of {path} is out of date: {why}",
                block.place()
            );
        }
        quoted += 1;
    }
    assert!(
        quoted > 0,
        "the handout quotes no source; did the marker change?"
    );
}

/// Every `(handout: <section>)` in the lab's hints names a heading, and every check's own hint
/// names at least one, so a student is always told where to read up.
#[test]
fn hints_name_real_sections() {
    let headings = handout::headings();
    let lab = lab();
    let mut problems = Vec::new();
    for check in &lab.checks {
        let own = check.hint.as_deref().unwrap_or_default();
        if handout::references(own).is_empty() {
            problems.push(format!("check `{}`: its hint names no section", check.id));
        }
        let conditional = check.hints.iter().map(|rule| rule.hint.as_str());
        for hint in std::iter::once(own).chain(conditional) {
            for section in handout::references(hint) {
                if !headings.contains(&section) {
                    problems.push(format!("check `{}`: no section `{section}`", check.id));
                }
            }
        }
    }
    // The other lab files (the original edition, the optional Part 2b) may name sections too.
    for entry in std::fs::read_dir(repo_root().join("labs/ipc")).expect("read labs/ipc") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a lab file");
        for section in handout::references(&text) {
            if !headings.contains(&section) {
                problems.push(format!("{}: no section `{section}`", handout::shown(&path)));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nheadings: {headings:#?}",
        problems.join("\n")
    );
}

/// The points table of 3.2 lists every check with its points.
#[test]
fn points_table_matches_the_lab() {
    let text =
        std::fs::read_to_string(repo_root().join("labs/ipc/handout/3-submission-and-grading.md"))
            .expect("read the grading section");
    let lab = lab();
    for check in &lab.checks {
        let row = format!("| `{}` | {} |", check.id, check.points);
        assert!(
            text.lines().any(|l| l.starts_with(&row)),
            "3.2 has no row starting `{row}`"
        );
    }
    let table_rows = text.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(
        table_rows,
        lab.checks.len(),
        "3.2 lists checks the lab does not have"
    );
}

/// The modes table of 2.8 shows the fixtures the grader really lays out.
#[test]
fn fixture_table_matches_the_lab() {
    let text = std::fs::read_to_string(repo_root().join("labs/ipc/handout/2-pipes-and-dd.md"))
        .expect("read Part 2");
    let lab = lab();
    for fixture in &lab.fixtures {
        let user = &lab.role(&fixture.owner).expect("a declared role").user;
        // The image and the grader make each user with a group of the same name.
        let group = fixture.group.as_deref().unwrap_or(user);
        let slash = if fixture.content.is_none() { "/" } else { "" };
        let row = format!(
            "| `{}{slash}` | {user}:{group} | {:04o} |",
            fixture.path.display(),
            fixture.mode
        );
        assert!(
            text.lines().any(|l| l.starts_with(&row)),
            "2.8 has no row starting `{row}`"
        );
    }
}

/// Relative links between the handout's files lead somewhere.
#[test]
fn links_resolve() {
    let mut broken = BTreeSet::new();
    for file in handout::files() {
        let text = std::fs::read_to_string(&file).expect("read");
        let dir = file.parent().unwrap_or(Path::new("."));
        for (at, _) in text.match_indices("](") {
            let rest = &text[at + 2..];
            let target = &rest[..rest.find(')').unwrap_or(rest.len())];
            let path = target.split('#').next().unwrap_or_default();
            if path.is_empty() || path.contains("://") {
                continue;
            }
            if !dir.join(path).exists() {
                broken.insert(format!("{} -> {target}", handout::shown(&file)));
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}

/// The transcript matcher itself: `<pid>` is a number, and everything else must be equal.
#[test]
fn pid_placeholder_matches_numbers_only() {
    use handout::line_matches;
    assert_eq!(
        line_matches("Listener PID: <pid>", "Listener PID: 4242"),
        Some(Some("4242".to_string()))
    );
    assert_eq!(line_matches("Listener PID: <pid>", "Listener PID: "), None);
    assert_eq!(
        line_matches("Listener PID: <pid>", "Listener PID: 42x"),
        None
    );
    assert_eq!(line_matches("exit status 0", "exit status 0"), Some(None));
    assert_eq!(line_matches("exit status 0", "exit status 1"), None);
    assert!(handout::excerpt_in("b\n...\nd", "a\nb\nc\nd").is_ok());
    assert!(handout::excerpt_in("b\nd", "a\nb\nc\nd").is_err());
    assert!(handout::excerpt_in("d\n...\nb", "a\nb\nc\nd").is_err());
}
