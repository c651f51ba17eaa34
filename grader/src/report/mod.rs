//! Report writers: turn one finished [`Report`] into what people and machines read — the terminal
//! report, Gradescope's `results.json`, and JUnit XML for GitLab — and write output files so that a
//! reader never sees half of one.
//!
//! Every writer works only from the `Report` it is given. Nothing here runs student code, decides a
//! score, or reads anything a student's program printed other than the evidence already in the
//! report; the same failure must read the same way in every format (see [`explain`]).

mod atomic;
mod explain;
pub mod gradescope;
mod junit;
mod terminal;

#[cfg(test)]
mod fixture;

pub use atomic::{WriteError, ensure_parent_exists, write_atomically};
pub use explain::explain;
pub use gradescope::gradescope_json;
pub use junit::{JunitError, junit_xml};
pub use terminal::{print_terminal, write_terminal};

use crate::model::{CheckResult, Report, RunMode, Status};

/// How many checks ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
}

impl Tally {
    fn of(report: &Report) -> Self {
        let mut tally = Tally::default();
        for check in &report.checks {
            match check.status {
                Status::Passed => tally.passed += 1,
                Status::Failed => tally.failed += 1,
                Status::Skipped => tally.skipped += 1,
            }
        }
        tally
    }

    fn total(self) -> usize {
        self.passed + self.failed + self.skipped
    }

    /// `7 checks: 5 passed, 1 failed, 1 skipped`
    fn sentence(self) -> String {
        let noun = if self.total() == 1 { "check" } else { "checks" };
        format!(
            "{} {noun}: {} passed, {} failed, {} skipped",
            self.total(),
            self.passed,
            self.failed,
            self.skipped
        )
    }
}

/// One part with its checks, in the order a reader should see them.
#[derive(Debug)]
struct PartView<'a> {
    id: &'a str,
    title: &'a str,
    checks: Vec<&'a CheckResult>,
}

/// Groups the checks by part, in the lab's part order. A check naming a part the lab did not list
/// still gets shown (after the listed ones) rather than silently dropped from a report.
fn parts_in_order(report: &Report) -> Vec<PartView<'_>> {
    let mut views: Vec<PartView<'_>> = report
        .parts
        .iter()
        .map(|(id, title)| PartView {
            id,
            title,
            checks: Vec::new(),
        })
        .collect();
    for check in &report.checks {
        match views.iter_mut().find(|v| v.id == check.part) {
            Some(view) => view.checks.push(check),
            None => views.push(PartView {
                id: &check.part,
                title: &check.part_title,
                checks: vec![check],
            }),
        }
    }
    views.retain(|v| !v.checks.is_empty());
    views
}

/// One line saying under whose authority student code ran.
fn describe_mode(mode: &RunMode) -> String {
    match mode {
        RunMode::Privileged {
            owner_user,
            confined_user,
        } => format!(
            "privileged (grader is root; student code ran as `{owner_user}` and, confined, as \
             `{confined_user}`)"
        ),
        RunMode::Unprivileged { user } => format!(
            "unprivileged (student code ran as `{user}`; checks that need root were skipped)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_tally_counts_each_status() {
        let report = fixture::report();
        let tally = Tally::of(&report);
        assert_eq!(
            tally,
            Tally {
                passed: 2,
                failed: 2,
                skipped: 1
            }
        );
        assert_eq!(tally.sentence(), "5 checks: 2 passed, 2 failed, 1 skipped");
    }

    #[test]
    fn report_parts_keep_lab_order_and_unlisted_parts() {
        let mut report = fixture::report();
        report.checks[0].part = "stray".into();
        report.checks[0].part_title = "Stray part".into();
        let views = parts_in_order(&report);
        let ids: Vec<&str> = views.iter().map(|v| v.id).collect();
        assert_eq!(ids, ["submission", "part1", "part2", "stray"]);
    }
}
