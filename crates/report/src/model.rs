//! What a grading run found: the one data model every report format (terminal, Gradescope JSON, JUnit)
//! is written from. Nothing here runs student code or formats output.

use std::path::PathBuf;
use std::time::Duration;

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    /// Not run: a check it depends on failed, or it needs something this run does not have (root).
    Skipped,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::Skipped => "SKIP",
        }
    }
}

/// When a student may see a check's result and details: Gradescope's four values for a test's
/// `visibility`. Which checks a given report shows is the audience's business (see
/// [`crate::Audience`]); the model only carries the lab's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Visibility {
    #[default]
    Visible,
    Hidden,
    AfterDueDate,
    AfterPublished,
}

impl Visibility {
    /// Gradescope's name for it, as results.json carries it.
    pub fn gradescope_name(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::Hidden => "hidden",
            Visibility::AfterDueDate => "after_due_date",
            Visibility::AfterPublished => "after_published",
        }
    }

    /// How a report names the checks of this visibility it leaves out (plural).
    pub fn withheld_phrase(self) -> &'static str {
        match self {
            Visibility::Visible => "shown",
            Visibility::Hidden => "hidden",
            Visibility::AfterDueDate => "shown after the due date",
            Visibility::AfterPublished => "shown once grades are published",
        }
    }
}

/// What a student needs to see to fix a failed check: the input used, what was expected, what came
/// out, and a hint naming the likely mistake. Every field is optional because not every check has
/// an input (a file check) or an expected text (a build).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// The input given, e.g. the stdin bytes or the signal sent, shown as text.
    pub input: Option<String>,
    /// What the lab expects, already under the whitespace policy (see `compare`).
    pub expected: Option<String>,
    /// What the program did, already under the same policy.
    pub actual: Option<String>,
    /// The likely mistake and the handout step that fixes it.
    pub hint: Option<String>,
    /// A longer log excerpt, e.g. the compiler's own error lines.
    pub log: Option<String>,
}

impl Evidence {
    pub fn is_empty(&self) -> bool {
        self.input.is_none()
            && self.expected.is_none()
            && self.actual.is_none()
            && self.hint.is_none()
            && self.log.is_none()
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// Stable identifier from the lab file, unique within the lab.
    pub id: String,
    /// One-line human title.
    pub title: String,
    /// Part identifier, e.g. `part1`.
    pub part: String,
    /// Part title, e.g. `Part 1: signals`.
    pub part_title: String,
    pub max_points: f64,
    pub points: f64,
    pub status: Status,
    /// One line saying what happened, e.g. `exited with status 0 after SIGUSR1`.
    pub summary: String,
    pub evidence: Evidence,
    pub duration: Duration,
    /// The lab's `visibility` for the check.
    pub visibility: Visibility,
}

impl CheckResult {
    /// A zero-point check only reports (e.g. git tags); it never decides the exit status.
    pub fn informational(&self) -> bool {
        self.max_points == 0.0
    }
}

/// A check a report leaves out for its audience (see [`Report::for_audience`]): only what the
/// lab's points table already says, never its title, result or evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Withheld {
    pub part: String,
    pub max_points: f64,
    pub visibility: Visibility,
}

/// Under whose authority student code ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMode {
    /// The grader is root: it set up files as root and ran student code as these unprivileged
    /// users, given as (role, user) in the lab's order; the first owns the lab's files.
    Privileged { users: Vec<(String, String)> },
    /// The grader is an ordinary user: student code ran as that user and root-only checks were skipped.
    Unprivileged { user: String },
}

/// Everything a grading run found, in check order.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub lab_name: String,
    pub lab_title: String,
    /// Where the lab definition came from: a path, or `embedded`.
    pub lab_source: String,
    /// Hex digest identifying the exact lab definition text (for gradebooks and regrades).
    pub lab_digest: String,
    pub grader_version: String,
    pub submission: PathBuf,
    pub mode: RunMode,
    /// Parts in lab order: (id, title).
    pub parts: Vec<(String, String)>,
    pub checks: Vec<CheckResult>,
    /// Things the grader wants the reader to know that are not checks (e.g. network isolation off).
    pub notices: Vec<String>,
    pub execution_time: Duration,
    /// Checks left out of this report for its audience; empty in a full report. Scores, the
    /// tally and the grade line count only `checks`, so they say nothing about these.
    pub withheld: Vec<Withheld>,
}

impl Report {
    pub fn score(&self) -> f64 {
        self.checks.iter().map(|c| c.points).sum()
    }

    pub fn max_score(&self) -> f64 {
        self.checks.iter().map(|c| c.max_points).sum()
    }

    /// Score as a percentage of the maximum; 0 when the lab has no points at all.
    pub fn percent(&self) -> f64 {
        let max = self.max_score();
        if max > 0.0 {
            100.0 * self.score() / max
        } else {
            0.0
        }
    }

    /// Points earned and available in one part.
    pub fn part_score(&self, part: &str) -> (f64, f64) {
        self.checks
            .iter()
            .filter(|c| c.part == part)
            .fold((0.0, 0.0), |(s, m), c| (s + c.points, m + c.max_points))
    }

    /// True when every check that carries points passed: the grader then exits 0.
    pub fn all_passed(&self) -> bool {
        self.checks
            .iter()
            .all(|c| c.informational() || c.status == Status::Passed)
    }

    /// Points of the checks this report leaves out.
    pub fn withheld_points(&self) -> f64 {
        self.withheld.iter().map(|w| w.max_points).sum()
    }

    /// One sentence on what this report leaves out, when it leaves anything out: `2 checks
    /// worth 5 points are not shown (1 hidden, 1 shown after the due date); the grade counts
    /// only the checks shown`.
    pub fn withheld_sentence(&self) -> Option<String> {
        if self.withheld.is_empty() {
            return None;
        }
        let count = self.withheld.len();
        let mut kinds = Vec::new();
        for visibility in [
            Visibility::Hidden,
            Visibility::AfterDueDate,
            Visibility::AfterPublished,
        ] {
            let n = self
                .withheld
                .iter()
                .filter(|w| w.visibility == visibility)
                .count();
            if n > 0 {
                kinds.push(format!("{n} {}", visibility.withheld_phrase()));
            }
        }
        let points = self.withheld_points();
        let (noun, verb) = if count == 1 {
            ("check", "is")
        } else {
            ("checks", "are")
        };
        Some(format!(
            "{count} {noun} worth {} {} {verb} not shown ({}); the grade counts only the checks shown",
            format_points(points),
            if points == 1.0 { "point" } else { "points" },
            kinds.join(", ")
        ))
    }

    /// The last line of every terminal report, read by GitLab's `coverage:` regex.
    pub fn grade_line(&self) -> String {
        format!(
            "GRADE: {}/{} ({:.2}%)",
            format_points(self.score()),
            format_points(self.max_score()),
            self.percent()
        )
    }
}

/// Points print as integers when whole (`25`), else with up to two decimals (`2.5`).
pub fn format_points(points: f64) -> String {
    if points.fract() == 0.0 {
        format!("{points:.0}")
    } else {
        let s = format!("{points:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_format_whole_and_fractional() {
        assert_eq!(format_points(25.0), "25");
        assert_eq!(format_points(2.5), "2.5");
        assert_eq!(format_points(0.25), "0.25");
        assert_eq!(format_points(0.0), "0");
    }
}
