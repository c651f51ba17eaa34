//! Who reads a report, and so which checks it shows: a lab may mark a check `hidden`,
//! `after_due_date` or `after_published` (Gradescope's test visibilities), and the student's
//! terminal report and JUnit must then say nothing about that check's result.
//!
//! [`Report::for_audience`] is the one place that decides it: it returns a report whose `checks`
//! are only those the audience may see, the others reduced to a [`Withheld`] entry (part, points,
//! visibility). Every writer then works from that report as from any other, so none of them can
//! leak what it was never given. This module must never move a withheld check's title, status,
//! summary or evidence into the report it returns.

use std::fmt;
use std::str::FromStr;

use crate::model::{Report, Visibility, Withheld};

/// The reader of a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Audience {
    /// A student before results are released: only `visible` checks are shown. The grader
    /// cannot know the due date, so this is the default.
    #[default]
    Student,
    /// A student once the due date has passed and grades are published: `after_due_date` and
    /// `after_published` checks are shown too; `hidden` ones still are not.
    Released,
    /// The instructor: every check, hidden ones included.
    Instructor,
}

impl Audience {
    /// Every audience, as the command line names them.
    pub const ALL: [Audience; 3] = [Audience::Student, Audience::Released, Audience::Instructor];

    pub fn name(self) -> &'static str {
        match self {
            Audience::Student => "student",
            Audience::Released => "released",
            Audience::Instructor => "instructor",
        }
    }

    /// Whether this audience sees a check of that visibility.
    pub fn sees(self, visibility: Visibility) -> bool {
        match (self, visibility) {
            (_, Visibility::Visible) | (Audience::Instructor, _) => true,
            (Audience::Released, Visibility::AfterDueDate | Visibility::AfterPublished) => true,
            (Audience::Student | Audience::Released, _) => false,
        }
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Audience {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Audience::ALL
            .into_iter()
            .find(|a| a.name() == text)
            .ok_or_else(|| {
                format!("`{text}` is not an audience: write student, released or instructor")
            })
    }
}

impl Report {
    /// This report as `audience` may read it: the checks it may not see are taken out and
    /// listed only as [`Withheld`] (part, points, visibility), so the scores, the tally, the
    /// grade line and the exit status of the returned report count only the checks it shows.
    pub fn for_audience(&self, audience: Audience) -> Report {
        let mut shown = self.clone();
        shown.checks.clear();
        for check in &self.checks {
            if audience.sees(check.visibility) {
                shown.checks.push(check.clone());
            } else {
                shown.withheld.push(Withheld {
                    part: check.part.clone(),
                    max_points: check.max_points,
                    visibility: check.visibility,
                });
            }
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::model::Status;

    #[test]
    fn report_audience_names_parse_back() {
        for audience in Audience::ALL {
            assert_eq!(audience.name().parse::<Audience>(), Ok(audience));
        }
        let err = "teacher".parse::<Audience>().expect_err("not an audience");
        assert!(err.contains("student, released or instructor"), "{err}");
        assert_eq!(Audience::default(), Audience::Student);
    }

    #[test]
    fn report_audience_sees_by_visibility() {
        use Visibility::*;
        let table = [
            (Audience::Student, [true, false, false, false]),
            (Audience::Released, [true, false, true, true]),
            (Audience::Instructor, [true, true, true, true]),
        ];
        for (audience, want) in table {
            let got = [Visible, Hidden, AfterDueDate, AfterPublished].map(|v| audience.sees(v));
            assert_eq!(got, want, "{audience}");
        }
    }

    #[test]
    fn report_for_student_leaves_hidden_checks_out_of_the_score() {
        let report = fixture::with_hidden();
        assert_eq!((report.score(), report.max_score()), (10.0, 23.0));

        let student = report.for_audience(Audience::Student);
        assert!(
            student
                .checks
                .iter()
                .all(|c| c.visibility == Visibility::Visible)
        );
        assert_eq!(student.checks.len(), fixture::report().checks.len());
        assert_eq!((student.score(), student.max_score()), (7.0, 15.0));
        assert_eq!(student.withheld_points(), 8.0);
        assert_eq!(student.grade_line(), "GRADE: 7/15 (46.67%)");
        // The hidden check failed, yet the student's view passes or fails on what it shows.
        assert!(
            report
                .checks
                .iter()
                .any(|c| c.status == Status::Failed && c.visibility == Visibility::Hidden)
        );

        let released = report.for_audience(Audience::Released);
        assert_eq!(released.withheld.len(), 1);
        assert_eq!(released.withheld[0].visibility, Visibility::Hidden);
        assert_eq!((released.score(), released.max_score()), (10.0, 18.0));

        let instructor = report.for_audience(Audience::Instructor);
        assert_eq!(instructor, report);
        assert_eq!(instructor.withheld_sentence(), None);
    }

    #[test]
    fn report_withheld_sentence_counts_each_visibility() {
        let student = fixture::with_hidden().for_audience(Audience::Student);
        assert_eq!(
            student.withheld_sentence().as_deref(),
            Some(
                "2 checks worth 8 points are not shown (1 hidden, 1 shown after the due date); \
                 the grade counts only the checks shown"
            )
        );
    }
}
