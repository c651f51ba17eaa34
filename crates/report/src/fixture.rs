//! A hand-built report for the writers' unit tests: one check of every kind a writer must handle —
//! a pass, a failure whose evidence hides trailing spaces, tabs and CRLF, a skip, and a zero-point
//! informational check — and the same report with a hidden and an after-due-date check added.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::{CheckResult, Evidence, Report, RunMode, Status, Visibility};

pub(crate) fn check(id: &str, part: &str, part_title: &str, title: &str) -> CheckResult {
    CheckResult {
        id: id.into(),
        title: title.into(),
        part: part.into(),
        part_title: part_title.into(),
        max_points: 0.0,
        points: 0.0,
        status: Status::Passed,
        summary: String::new(),
        evidence: Evidence::default(),
        duration: Duration::from_millis(10),
        visibility: Visibility::Visible,
    }
}

pub(crate) fn report() -> Report {
    let sub = ("submission", "Submission");
    let p1 = ("part1", "Part 1: signals");
    let p2 = ("part2", "Part 2: cat sandbox");

    let builds = CheckResult {
        max_points: 5.0,
        points: 5.0,
        summary: "cargo build succeeded".into(),
        ..check("build", sub.0, sub.1, "The submission builds")
    };
    let sigint = CheckResult {
        max_points: 3.0,
        status: Status::Failed,
        summary: "output after SIGINT differs from the expected line".into(),
        evidence: Evidence {
            input: Some("SIGINT".into()),
            expected: Some("SIGINT received!\n".into()),
            actual: Some("SIGINT received!  \r\n\tbye".into()),
            hint: Some("Print exactly the line the handout asks for.".into()),
            log: None,
        },
        duration: Duration::from_millis(1250),
        ..check("sigint", p1.0, p1.1, "SIGINT prints its line and exits 1")
    };
    let confined = CheckResult {
        max_points: 5.0,
        status: Status::Skipped,
        summary: "needs root to run the cat as garfield".into(),
        ..check("confined", p2.0, p2.1, "The kernel refuses garfield")
    };
    let tags = CheckResult {
        status: Status::Failed,
        summary: "no git tag named part1".into(),
        evidence: Evidence {
            hint: Some("Tag the commit you want graded: git tag part1".into()),
            ..Evidence::default()
        },
        ..check("tags", sub.0, sub.1, "Git tags are present")
    };
    let pid = CheckResult {
        max_points: 2.0,
        points: 2.0,
        summary: "printed its PID".into(),
        ..check("pid", p1.0, p1.1, "Listener prints its PID")
    };

    Report {
        lab_name: "ipc-lab".into(),
        lab_title: "IPC and distrustful decomposition".into(),
        lab_source: "embedded".into(),
        lab_digest: "0123456789abcdef0123456789abcdef".into(),
        grader_version: "0.1.0".into(),
        submission: PathBuf::from("/tmp/submission"),
        mode: RunMode::Unprivileged {
            user: "student".into(),
        },
        parts: vec![
            (sub.0.into(), sub.1.into()),
            (p1.0.into(), p1.1.into()),
            (p2.0.into(), p2.1.into()),
        ],
        checks: vec![builds, pid, sigint, confined, tags],
        notices: vec!["network isolation is off".into()],
        execution_time: Duration::from_millis(4321),
        withheld: Vec::new(),
    }
}

/// Text that only the instructor may read: a report for students must contain none of it.
pub(crate) const SECRETS: [&str; 5] = [
    "Secret title 7f3a",
    "secret summary 7f3a",
    "secret expected 7f3a",
    "secret actual 7f3a",
    "secret hint 7f3a",
];

/// `report()` with a failed hidden check in Part 1 (5 points, every text a [`SECRETS`] entry)
/// and a passed after-due-date check in Part 2 (3 points): 10/23 in full.
pub(crate) fn with_hidden() -> Report {
    let mut report = report();
    let hidden = CheckResult {
        max_points: 5.0,
        status: Status::Failed,
        summary: SECRETS[1].into(),
        evidence: Evidence {
            input: None,
            expected: Some(SECRETS[2].into()),
            actual: Some(SECRETS[3].into()),
            hint: Some(SECRETS[4].into()),
            log: None,
        },
        visibility: Visibility::Hidden,
        ..check("hidden", "part1", "Part 1: signals", SECRETS[0])
    };
    let later = CheckResult {
        max_points: 3.0,
        points: 3.0,
        summary: "later summary".into(),
        visibility: Visibility::AfterDueDate,
        ..check("later", "part2", "Part 2: cat sandbox", "Later title")
    };
    report.checks.insert(3, hidden);
    report.checks.push(later);
    report
}
