//! The human report printed at the end of a run: header, notices, each part with its checks and the
//! explanation of every failure or skip, a tally, and the grade line.
//!
//! The last line must always be exactly [`Report::grade_line`] followed by one newline and never
//! coloured: GitLab's `coverage:` regex and scripts read it. Colour is only ever added when the
//! caller asks for it; deciding whether the output is a terminal is the caller's job.
//!
//! A report made for students (see [`crate::Audience`]) lists, in each part, only how many
//! checks and points it leaves out (`----  ?/5  1 hidden check`), and says before the grade line
//! how many points are not shown and that the grade counts only the checks shown. A full report
//! tags each check that students would not see (`[hidden]`).

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::{PartView, Tally, describe_mode, explain, parts_in_order};
use crate::model::{CheckResult, Report, Status, Visibility, Withheld, format_points};

/// How far an explanation is indented under its check line.
const EXPLAIN_INDENT: &str = "        ";

/// Writes the report to `out`, with ANSI colour only when `color` is true.
pub fn write_terminal(report: &Report, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let paint = Paint { color };
    write_header(report, out, paint)?;

    let parts = parts_in_order(report);
    let points_width = parts
        .iter()
        .flat_map(|p| &p.checks)
        .map(|c| points_cell(c).len())
        .chain(
            parts
                .iter()
                .flat_map(|p| withheld_groups(&p.withheld))
                .map(|(_, _, points)| withheld_cell(points).len()),
        )
        .max()
        .unwrap_or(0);
    for part in &parts {
        write_part(report, part, points_width, out, paint)?;
    }

    writeln!(out)?;
    writeln!(out, "{}", Tally::of(report).sentence())?;
    if let Some(sentence) = report.withheld_sentence() {
        writeln!(out, "{sentence}")?;
    }
    // Nothing may follow this line, and it carries no colour.
    writeln!(out, "{}", report.grade_line())?;
    out.flush()
}

/// Prints the report on standard output, coloured only when standard output is a terminal and
/// neither `NO_COLOR` nor `CLICOLOR=0` asks otherwise (anstream strips the codes in those cases).
pub fn print_terminal(report: &Report) -> io::Result<()> {
    let mut stdout = anstream::stdout().lock();
    write_terminal(report, &mut stdout, true)
}

fn write_header(report: &Report, out: &mut dyn Write, paint: Paint) -> io::Result<()> {
    writeln!(out, "{}", paint.bold(&report.lab_title))?;
    let digest: String = report.lab_digest.chars().take(12).collect();
    writeln!(out, "  submission: {}", report.submission.display())?;
    writeln!(
        out,
        "  lab:        {} ({}, digest {digest})",
        report.lab_name, report.lab_source
    )?;
    writeln!(out, "  grader:     version {}", report.grader_version)?;
    writeln!(out, "  mode:       {}", describe_mode(&report.mode))?;
    for notice in &report.notices {
        writeln!(out, "{} {notice}", paint.style(WARN, "note:"))?;
    }
    Ok(())
}

fn write_part(
    report: &Report,
    part: &PartView<'_>,
    points_width: usize,
    out: &mut dyn Write,
    paint: Paint,
) -> io::Result<()> {
    let (score, max) = report.part_score(part.id);
    writeln!(out)?;
    writeln!(
        out,
        "{}  {}/{}",
        paint.bold(part.title),
        format_points(score),
        format_points(max)
    )?;
    for check in &part.checks {
        let (label, style) = match check.status {
            Status::Passed => (Status::Passed.label(), PASS),
            Status::Failed => (Status::Failed.label(), FAIL),
            Status::Skipped => (Status::Skipped.label(), WARN),
        };
        writeln!(
            out,
            "  {}  {:>points_width$}  {}{}",
            paint.style(style, label),
            points_cell(check),
            check.title,
            visibility_tag(check.visibility)
        )?;
        if check.status != Status::Passed {
            for line in explain(check).lines() {
                writeln!(out, "{EXPLAIN_INDENT}{line}")?;
            }
        }
    }
    for (visibility, count, points) in withheld_groups(&part.withheld) {
        let noun = if count == 1 { "check" } else { "checks" };
        let what = match visibility {
            Visibility::Hidden => format!("{count} hidden {noun}"),
            other => format!("{count} {noun} {}", other.withheld_phrase()),
        };
        writeln!(
            out,
            "  ----  {:>points_width$}  {what}",
            withheld_cell(points)
        )?;
    }
    Ok(())
}

/// A part's withheld checks by visibility, in a fixed order: (visibility, count, points).
fn withheld_groups(withheld: &[&Withheld]) -> Vec<(Visibility, usize, f64)> {
    [
        Visibility::Hidden,
        Visibility::AfterDueDate,
        Visibility::AfterPublished,
    ]
    .into_iter()
    .filter_map(|visibility| {
        let group: Vec<_> = withheld
            .iter()
            .filter(|w| w.visibility == visibility)
            .collect();
        (!group.is_empty()).then(|| {
            let points = group.iter().map(|w| w.max_points).sum();
            (visibility, group.len(), points)
        })
    })
    .collect()
}

/// `?/5`: the points are known from the lab, the result is not shown.
fn withheld_cell(points: f64) -> String {
    format!("?/{}", format_points(points))
}

/// After the title of a check students would not see, in a report that shows it.
fn visibility_tag(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Visible => "",
        Visibility::Hidden => "  [hidden]",
        Visibility::AfterDueDate => "  [after due date]",
        Visibility::AfterPublished => "  [after published]",
    }
}

/// `2/3`, or `info` for a check that carries no points.
fn points_cell(check: &CheckResult) -> String {
    if check.informational() {
        "info".to_string()
    } else {
        format!(
            "{}/{}",
            format_points(check.points),
            format_points(check.max_points)
        )
    }
}

const PASS: Style = AnsiColor::Green.on_default().bold();
const FAIL: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();

/// Applies styles only when colour was asked for.
#[derive(Debug, Clone, Copy)]
struct Paint {
    color: bool,
}

impl Paint {
    fn style(self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    fn bold(self, text: &str) -> String {
        self.style(Style::new().bold(), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn render(color: bool) -> String {
        let mut out = Vec::new();
        write_terminal(&fixture::report(), &mut out, color).expect("writing to a Vec");
        String::from_utf8(out).expect("the report is UTF-8")
    }

    #[test]
    fn report_terminal_grade_line_is_last_and_uncoloured() {
        for color in [false, true] {
            let text = render(color);
            let report = fixture::report();
            let expected_end = format!("\n{}\n", report.grade_line());
            assert!(text.ends_with(&expected_end), "{text}");
            assert_eq!(report.grade_line(), "GRADE: 7/15 (46.67%)");
        }
    }

    #[test]
    fn report_terminal_colour_only_when_asked() {
        assert!(!render(false).contains('\u{1b}'));
        let coloured = render(true);
        assert!(
            coloured.contains(&format!("{PASS}PASS{PASS:#}")),
            "{coloured}"
        );
        assert!(coloured.contains(&format!("{FAIL}FAIL{FAIL:#}")));
        assert!(coloured.contains(&format!("{WARN}SKIP{WARN:#}")));
    }

    #[test]
    fn report_terminal_lists_header_parts_checks_and_explanations() {
        let text = render(false);
        let expected = "\
IPC and distrustful decomposition
  submission: /tmp/submission
  lab:        ipc-lab (embedded, digest 0123456789ab)
  grader:     version 0.1.0
  mode:       unprivileged (student code ran as `student`; checks that need root were skipped)
note: network isolation is off

Submission  5/5
  PASS   5/5  The submission builds
  FAIL  info  Git tags are present
        no git tag named part1
        hint: Tag the commit you want graded: git tag part1

Part 1: signals  2/5
  PASS   2/2  Listener prints its PID
  FAIL   0/3  SIGINT prints its line and exits 1
        output after SIGINT differs from the expected line
        input:
          |SIGINT
          \\ no newline at end
        expected:
          |SIGINT received!
        actual:
          |SIGINT received!··\\r
          |\\tbye
          \\ no newline at end
        hint: Print exactly the line the handout asks for.

Part 2: cat sandbox  0/5
  SKIP   0/5  The kernel refuses garfield
        skipped: needs root to run the cat as garfield

4 checks: 2 passed, 1 failed, 1 skipped; 1 for information only
GRADE: 7/15 (46.67%)
";
        assert_eq!(text, expected);
    }

    fn render_report(report: &Report) -> String {
        let mut out = Vec::new();
        write_terminal(report, &mut out, false).expect("writing to a Vec");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn report_terminal_for_students_leaves_hidden_details_out() {
        let report = fixture::with_hidden();
        let text = render_report(&report.for_audience(crate::Audience::Student));
        for secret in fixture::SECRETS {
            assert!(!text.contains(secret), "`{secret}` leaked:\n{text}");
        }
        assert!(!text.contains("Later title"), "{text}");
        assert!(text.contains("\n  ----   ?/5  1 hidden check\n"), "{text}");
        assert!(
            text.contains("\n  ----   ?/3  1 check shown after the due date\n"),
            "{text}"
        );
        // The part lines and the grade count only what is shown.
        assert!(text.contains("\nPart 1: signals  2/5\n"), "{text}");
        assert!(text.contains("\nPart 2: cat sandbox  0/5\n"), "{text}");
        assert!(text.ends_with(
            "4 checks: 2 passed, 1 failed, 1 skipped; 1 for information only\n\
             2 checks worth 8 points are not shown (1 hidden, 1 shown after the due date); \
             the grade counts only the checks shown\n\
             GRADE: 7/15 (46.67%)\n"
        ));
    }

    #[test]
    fn report_terminal_for_the_instructor_shows_and_tags_everything() {
        let report = fixture::with_hidden();
        let text = render_report(&report.for_audience(crate::Audience::Instructor));
        for secret in fixture::SECRETS {
            assert!(text.contains(secret), "`{secret}` missing:\n{text}");
        }
        assert!(
            text.contains("  FAIL   0/5  Secret title 7f3a  [hidden]\n"),
            "{text}"
        );
        assert!(
            text.contains("  PASS   3/3  Later title  [after due date]\n"),
            "{text}"
        );
        assert!(!text.contains("not shown"), "{text}");
        assert!(text.ends_with("\nGRADE: 10/23 (43.48%)\n"), "{text}");
    }

    #[test]
    fn report_terminal_once_released_shows_after_due_date_checks() {
        let text = render_report(&fixture::with_hidden().for_audience(crate::Audience::Released));
        assert!(text.contains("Later title  [after due date]"), "{text}");
        assert!(!text.contains(fixture::SECRETS[0]), "{text}");
        assert!(
            text.contains("1 check worth 5 points is not shown (1 hidden)"),
            "{text}"
        );
        assert!(text.ends_with("\nGRADE: 10/18 (55.56%)\n"), "{text}");
    }

    #[test]
    fn report_terminal_shows_privileged_users() {
        let mut report = fixture::report();
        report.mode = crate::model::RunMode::Privileged {
            users: vec![
                ("owner".into(), "tom".into()),
                ("confined".into(), "garfield".into()),
            ],
        };
        let mut out = Vec::new();
        write_terminal(&report, &mut out, false).expect("writing to a Vec");
        let text = String::from_utf8(out).expect("UTF-8");
        assert!(text.contains(
            "mode:       privileged (grader is root; student code ran as `tom` and, confined, as `garfield`)"
        ));
    }
}
