//! Report writers: turn one finished [`Report`] into what people and machines read — the terminal
//! report, Gradescope's `results.json`, and JUnit XML for GitLab — and write output files so that a
//! reader never sees half of one.
//!
//! Every writer works only from the `Report` it is given; a student's report is the full one
//! passed through [`Report::for_audience`] first (see [`audience`]), so what a lab hides never
//! reaches a writer that prints for students. Nothing here runs student code, decides a
//! score, or reads anything a student's program printed other than the evidence already in the
//! report; the same failure must read the same way in every format (see [`explain`]).

mod atomic;
pub mod audience;
mod explain;
pub mod gradescope;
mod junit;
pub mod model;
mod terminal;

#[cfg(test)]
mod fixture;

pub use atomic::{WriteError, ensure_parent_exists, write_atomically};
pub use audience::Audience;
pub use explain::explain;
pub use gradescope::gradescope_json;
pub use junit::{JunitError, junit_xml};
pub use terminal::{print_terminal, write_terminal};

use crate::model::{CheckResult, Report, RunMode, Status, Withheld};

/// How many checks ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// Zero-point checks: they only inform and never decide the exit status.
    informational: usize,
}

impl Tally {
    fn of(report: &Report) -> Self {
        let mut tally = Tally::default();
        for check in &report.checks {
            if check.informational() {
                tally.informational += 1;
                continue;
            }
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

    /// `7 checks: 5 passed, 1 failed, 1 skipped` and, when there are any, `; 1 for information
    /// only`. The exit status follows the first part alone: 0 when nothing failed or was skipped.
    fn sentence(self) -> String {
        let noun = if self.total() == 1 { "check" } else { "checks" };
        let mut line = format!(
            "{} {noun}: {} passed, {} failed, {} skipped",
            self.total(),
            self.passed,
            self.failed,
            self.skipped
        );
        if self.informational > 0 {
            line.push_str(&format!("; {} for information only", self.informational));
        }
        line
    }
}

/// One part with its checks, in the order a reader should see them.
#[derive(Debug)]
struct PartView<'a> {
    id: &'a str,
    title: &'a str,
    checks: Vec<&'a CheckResult>,
    /// The part's checks this report leaves out for its audience.
    withheld: Vec<&'a Withheld>,
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
            withheld: Vec::new(),
        })
        .collect();
    for check in &report.checks {
        match views.iter_mut().find(|v| v.id == check.part) {
            Some(view) => view.checks.push(check),
            None => views.push(PartView {
                id: &check.part,
                title: &check.part_title,
                checks: vec![check],
                withheld: Vec::new(),
            }),
        }
    }
    for withheld in &report.withheld {
        // A withheld check of a part the lab does not list has no title to show: its points
        // are still in the sentence at the end of the report.
        if let Some(view) = views.iter_mut().find(|v| v.id == withheld.part) {
            view.withheld.push(withheld);
        }
    }
    views.retain(|v| !v.checks.is_empty() || !v.withheld.is_empty());
    views
}

/// One line saying under whose authority student code ran.
fn describe_mode(mode: &RunMode) -> String {
    match mode {
        RunMode::Privileged { users } => match users.as_slice() {
            [(first, owner), (second, confined)] if first == "owner" && second == "confined" => {
                format!(
                    "privileged (grader is root; student code ran as `{owner}` and, confined, as \
                     `{confined}`)"
                )
            }
            _ => format!(
                "privileged (grader is root; student code ran as {})",
                users
                    .iter()
                    .map(|(role, user)| format!("`{user}` ({role})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
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
                failed: 1,
                skipped: 1,
                informational: 1,
            }
        );
        assert_eq!(
            tally.sentence(),
            "4 checks: 2 passed, 1 failed, 1 skipped; 1 for information only"
        );
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
