//! `OUT/report.html`, the class report: the score distribution, each check's pass rate across the
//! class (the check most students fail on top), the most frequent hints, the rows that could not
//! be graded, and a link to every student's own report. One self-contained file: the charts are
//! inline SVG from `svg_chart`, the style sheet is inline, and there is no script at all (a
//! Content-Security-Policy allowing none says so to the browser too).
//!
//! Per-check results come from the results.json files the batch already moved into `OUT/json/`,
//! read back after grading; the worker protocol carries none of them. Every string from a
//! submission (names, hints, details) is escaped by `markup`; this module must never write one
//! unescaped. The page is written with `report::write_atomically`, like the gradebook, so a
//! reader never sees half of it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

mod markup;
mod svg_chart;
mod tally;

use super::outputs::Layout;
use super::roster::Entry;
use super::row::{Row, RowStatus};
use markup::{escape, href_path};
use report::model::format_points;
use svg_chart::{Column, Segment, StackedRow};
use tally::{CheckSeen, buckets, hint_counts, pass_rates, read_checks};

pub const FILE_NAME: &str = "report.html";
/// The hints table shows at most this many, the most frequent.
const MAX_HINTS: usize = 15;
const PASSED_COLOR: &str = "#2e7d32";
const FAILED_COLOR: &str = "#c62828";
const SKIPPED_COLOR: &str = "#9e9e9e";

/// Writes `OUT/report.html` for `rows` (`entries[i]` is the submission of `rows[i]`) and
/// returns its path.
pub fn write(
    layout: &Layout,
    lab: &lab::Lab,
    entries: &[Entry],
    rows: &[Row],
) -> Result<PathBuf, String> {
    let titles: HashMap<&str, &str> = lab
        .checks
        .iter()
        .map(|c| (c.id.as_str(), c.title.as_str()))
        .collect();
    let mut students: Vec<Student> = entries
        .iter()
        .zip(rows)
        .map(|(entry, row)| Student::read(layout, entry, row))
        .collect();
    // The lab's own titles are shorter than the reports' `part - title` names.
    for check in students.iter_mut().flat_map(|s| &mut s.checks) {
        if let Some(title) = titles.get(check.id.as_str()) {
            check.title = (*title).to_string();
        }
    }
    let html = render(&lab.title, lab.max_points(), &students);
    let path = layout.root.join(FILE_NAME);
    report::write_atomically(&path, html.as_bytes()).map_err(|e| e.to_string())?;
    Ok(path)
}

/// One row as the report shows it.
#[derive(Debug, Clone)]
pub struct Student {
    pub name: String,
    pub status: RowStatus,
    pub score: Option<f64>,
    pub max: Option<f64>,
    pub detail: String,
    /// The checks of its results.json; empty when it has none from a finished grading run.
    pub checks: Vec<CheckSeen>,
    /// `(text, relative link)` of its files that exist: terminal report, results.json, log.
    pub links: Vec<(&'static str, String)>,
}

impl Student {
    fn read(layout: &Layout, entry: &Entry, row: &Row) -> Student {
        let has_result = matches!(row.status, RowStatus::Graded | RowStatus::Infra);
        let checks = if has_result && row.score.is_some() {
            read_checks(&layout.json(&entry.stem)).unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut links = Vec::new();
        for (text, dir, ext) in [
            ("report", "reports", "txt"),
            ("json", "json", "json"),
            ("log", "logs", "log"),
        ] {
            let file = format!("{}.{ext}", entry.stem);
            if layout.root.join(dir).join(&file).is_file() {
                links.push((text, href_path(&[dir, &file])));
            }
        }
        Student {
            name: row.student.clone(),
            status: row.status,
            score: row.score,
            max: row.max,
            detail: row.detail.clone(),
            checks,
            links,
        }
    }
}

/// The whole page.
pub fn render(lab_title: &str, max: f64, students: &[Student]) -> String {
    let mut page = String::new();
    let title = format!("Class report: {lab_title}");
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    summary(&mut page, max, students);
    histogram_section(&mut page, max, students);
    pass_rate_section(&mut page, students);
    hints_section(&mut page, students);
    failures_section(&mut page, students);
    students_section(&mut page, students);
    page.push_str("</body>\n</html>\n");
    page
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}\
h2{margin-top:32px;border-bottom:1px solid #ccc}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}\
td.n{text-align:right}pre{white-space:pre-wrap;margin:0;font-size:90%}\
.error{color:#a05a00}.infra{color:#c62828}.graded{color:#2e7d32}.pending{color:#666}";

fn count_of(students: &[Student], status: RowStatus) -> usize {
    students.iter().filter(|s| s.status == status).count()
}

fn scores(students: &[Student]) -> Vec<f64> {
    students.iter().filter_map(|s| s.score).collect()
}

fn summary(page: &mut String, max: f64, students: &[Student]) {
    let mut scores = scores(students);
    scores.sort_by(f64::total_cmp);
    let _ = write!(
        page,
        "<p>{} submissions: {} graded, {} error, {} infra",
        students.len(),
        count_of(students, RowStatus::Graded),
        count_of(students, RowStatus::Error),
        count_of(students, RowStatus::Infra),
    );
    let pending = count_of(students, RowStatus::Pending);
    if pending > 0 {
        let _ = write!(page, ", {pending} not graded yet");
    }
    page.push('.');
    if !scores.is_empty() {
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        let median = scores[scores.len() / 2];
        let _ = write!(
            page,
            " Of {} with a score: mean {:.2}, median {}, out of {}.",
            scores.len(),
            mean,
            format_points(median),
            format_points(max)
        );
    }
    page.push_str("</p>\n");
}

fn histogram_section(page: &mut String, max: f64, students: &[Student]) {
    let scores = scores(students);
    let columns: Vec<Column> = buckets(&scores, max)
        .iter()
        .map(|b| {
            let range = if b.high - b.low <= 1.0 && b.low.fract() == 0.0 && b.high == b.low + 1.0 {
                format!("{} points", format_points(b.low))
            } else {
                format!(
                    "{} to {} points",
                    format_points(b.low),
                    format_points(b.high)
                )
            };
            Column {
                label: format_points(b.low),
                count: b.count,
                tip: format!("{range}: {} students", b.count),
            }
        })
        .collect();
    page.push_str("<h2 id=\"scores\">Score distribution</h2>\n");
    let _ = writeln!(
        page,
        "<p>{} submissions with a score; each column counts the scores from its number of points up to the next column's.</p>",
        scores.len()
    );
    page.push_str(&svg_chart::histogram(
        &columns,
        &format!("points (out of {})", format_points(max)),
        "Histogram of the class's scores",
    ));
    page.push('\n');
}

fn pass_rate_section(page: &mut String, students: &[Student]) {
    let rates = pass_rates(students.iter().map(|s| s.checks.as_slice()));
    page.push_str("<h2 id=\"checks\">Pass rate by check</h2>\n");
    if rates.is_empty() {
        page.push_str("<p>No check results yet.</p>\n");
        return;
    }
    page.push_str("<p>The check the most students did not pass is on top. Checks for information only (no points) come last.</p>\n");
    let rows: Vec<StackedRow> = rates
        .iter()
        .map(|r| {
            let info = if r.informational { "info: " } else { "" };
            StackedRow {
                label: r.title.clone(),
                tip: format!(
                    "{} [{}]: {} passed, {} failed, {} skipped",
                    r.name, r.id, r.passed, r.failed, r.skipped
                ),
                segments: vec![
                    Segment {
                        count: r.passed,
                        color: PASSED_COLOR,
                    },
                    Segment {
                        count: r.failed,
                        color: FAILED_COLOR,
                    },
                    Segment {
                        count: r.skipped,
                        color: SKIPPED_COLOR,
                    },
                ],
                note: format!(
                    "{info}{:.0} % ({}/{})",
                    r.rate() * 100.0,
                    r.passed,
                    r.seen()
                ),
            }
        })
        .collect();
    page.push_str(&svg_chart::stacked_rows(
        &rows,
        &[
            ("passed", PASSED_COLOR),
            ("failed", FAILED_COLOR),
            ("skipped", SKIPPED_COLOR),
        ],
        "Pass rate of each check across the class",
    ));
    page.push('\n');
}

fn hints_section(page: &mut String, students: &[Student]) {
    let hints = hint_counts(students.iter().map(|s| s.checks.as_slice()));
    page.push_str("<h2 id=\"hints\">Most frequent hints</h2>\n");
    if hints.is_empty() {
        page.push_str("<p>No hints were given.</p>\n");
        return;
    }
    if hints.len() > MAX_HINTS {
        let _ = writeln!(
            page,
            "<p>The {MAX_HINTS} most frequent of {} different hints.</p>",
            hints.len()
        );
    }
    page.push_str("<table>\n<tr><th>students</th><th>hint</th><th>given by</th></tr>\n");
    for hint in hints.iter().take(MAX_HINTS) {
        let checks: Vec<String> = hint.checks.iter().map(|c| escape(c)).collect();
        let _ = writeln!(
            page,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            hint.students,
            escape(&hint.hint),
            checks.join("<br>")
        );
    }
    page.push_str("</table>\n");
}

fn failures_section(page: &mut String, students: &[Student]) {
    let failed: Vec<&Student> = students
        .iter()
        .filter(|s| matches!(s.status, RowStatus::Error | RowStatus::Infra))
        .collect();
    page.push_str("<h2 id=\"failures\">Not graded: error and infra rows</h2>\n");
    if failed.is_empty() {
        page.push_str("<p>None: every submission was graded.</p>\n");
        return;
    }
    page.push_str("<p><code>error</code>: the submission itself could not be graded. <code>infra</code>: the grader or the machine failed (an earlier score, if any, is kept).</p>\n");
    page.push_str(
        "<table>\n<tr><th>student</th><th>status</th><th>detail</th><th>files</th></tr>\n",
    );
    for student in failed {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td><pre>{}</pre></td><td>{}</td></tr>",
            escape(&student.name),
            student.status.label(),
            student.status.label(),
            escape(&student.detail),
            links(student)
        );
    }
    page.push_str("</table>\n");
}

fn students_section(page: &mut String, students: &[Student]) {
    page.push_str("<h2 id=\"students\">Every student</h2>\n");
    page.push_str(
        "<table>\n<tr><th>student</th><th>status</th><th>score</th><th>files</th></tr>\n",
    );
    for student in students {
        let score = match (student.score, student.max) {
            (Some(score), Some(max)) => format!("{}/{}", format_points(score), format_points(max)),
            _ => String::new(),
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td class=\"n\">{score}</td><td>{}</td></tr>",
            escape(&student.name),
            student.status.label(),
            student.status.label(),
            links(student)
        );
    }
    page.push_str("</table>\n");
}

/// The student's own files as relative links (each link already percent-encoded).
fn links(student: &Student) -> String {
    student
        .links
        .iter()
        .map(|(text, href)| format!("<a href=\"{}\">{text}</a>", escape(href)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::tally::Seen;
    use super::tally::tests::check;
    use super::*;

    fn student(
        name: &str,
        status: RowStatus,
        score: Option<f64>,
        checks: Vec<CheckSeen>,
    ) -> Student {
        Student {
            name: name.into(),
            status,
            score,
            max: score.map(|_| 10.0),
            detail: String::new(),
            checks,
            links: vec![("report", href_path(&["reports", &format!("{name}.txt")]))],
        }
    }

    #[test]
    fn class_report_of_an_empty_class_or_zero_max_renders() {
        for max in [0.0, 25.0] {
            let page = render("Lab", max, &[]);
            assert!(page.contains("<svg") && page.ends_with("</html>\n"));
            assert!(!page.contains("NaN") && !page.contains("\"inf"), "{page}");
        }
        let class = [student("a", RowStatus::Graded, Some(0.0), vec![])];
        let page = render("Lab", 0.0, &class);
        assert!(!page.contains("NaN"), "{page}");
    }

    #[test]
    fn class_report_escapes_hostile_names_hints_and_details() {
        let evil = "<script>alert(1)</script>";
        let attr = "\"><img src=x onerror=alert(1)>";
        let mut hostile = check(evil, Seen::Failed, Some(attr));
        hostile.title = attr.into();
        hostile.name = evil.into();
        let mut error = student(attr, RowStatus::Error, None, vec![]);
        error.detail = format!("{evil}\n  fix: {attr}");
        let class = [
            student(evil, RowStatus::Graded, Some(3.0), vec![hostile]),
            error,
        ];
        let page = render(evil, 10.0, &class);
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
        assert!(page.contains(r#"href="reports/%3Cscript%3Ealert%281%29%3C%2Fscript%3E.txt""#));
    }
}
