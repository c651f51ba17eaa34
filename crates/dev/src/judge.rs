//! Whether one grade came out exactly right: the score, which checks were lost, the hint, the exit
//! status and the last line; and whether any grade a pipeline would read (the last `GRADE:` line,
//! which GitLab's coverage pattern picks, results.json, the JUnit `grade` property) is other than
//! the grade the entry deserves. Also reads each check's time from the JUnit report, to see how
//! far past its deadline any check ran.
//!
//! Only compares; a mismatch is a problem to report, never a panic.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::manifest::Entry;
use super::observe::GraderRun;
use lab::Lab;
use report::model::format_points;

/// The verdict on one grade.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    /// Empty when the grade is exactly right.
    pub problems: Vec<String>,
    /// A grade a pipeline would read differs from the deserved one, for an entry that tries to
    /// pass off its own.
    pub forged_accepted: bool,
    /// The furthest any check ran past its own deadline.
    pub overshoot: Duration,
    /// The score in results.json.
    pub score: Option<f64>,
}

/// The checks with points `entry` must lose: as root its own list, otherwise also every check
/// that needs root (they are skipped, never passed).
pub fn expected_lost(entry: &Entry, lab: &Lab, privileged: bool) -> BTreeSet<String> {
    let mut lost = entry.lost.clone();
    if !privileged {
        lost.extend(
            lab.checks
                .iter()
                .filter(|c| c.points > 0.0 && lab.needs_root(c))
                .map(|c| c.id.clone()),
        );
    }
    lost
}

pub fn expected_score(lab: &Lab, lost: &BTreeSet<String>) -> f64 {
    lab.max_points()
        - lab
            .checks
            .iter()
            .filter(|c| lost.contains(&c.id))
            .map(|c| c.points)
            .sum::<f64>()
}

/// The line the grader prints last, for a score.
pub fn grade_line(lab: &Lab, score: f64) -> String {
    let max = lab.max_points();
    let percent = if max > 0.0 { 100.0 * score / max } else { 0.0 };
    format!(
        "GRADE: {}/{} ({percent:.2}%)",
        format_points(score),
        format_points(max)
    )
}

/// Judges one grade from the grader's output and the two reports it wrote.
pub fn judge(
    entry: &Entry,
    lab: &Lab,
    privileged: bool,
    run: &GraderRun,
    json: Option<&str>,
    junit: Option<&str>,
) -> Judged {
    let mut judged = Judged::default();
    let lost = expected_lost(entry, lab, privileged);
    let score = expected_score(lab, &lost);
    let want_line = grade_line(lab, score);
    let mut problems: Vec<String> = Vec::new();
    let mut problem = |text: String| problems.push(text);
    let mut seen_by_ci = Vec::new();

    let want_code = if lost.is_empty() { 0 } else { 1 };
    if run.killed_by_runner {
        problem("the grader did not finish within the runner's limit".into());
    }
    if run.code != Some(want_code) {
        problem(format!(
            "exit status {:?}, expected {want_code}; stderr: {}",
            run.code,
            run.stderr.trim()
        ));
    }

    // The grade lines a coverage pattern anchored at the start of a line would see.
    let grade_lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("GRADE: ") && line.ends_with("%)"))
        .collect();
    match grade_lines.last() {
        Some(last) => seen_by_ci.push(("the last GRADE line", last.to_string())),
        None => problem("no GRADE line on stdout".into()),
    }
    if grade_lines.len() > 1 {
        problem(format!(
            "{} lines on stdout look like a grade; only the grader's last line may",
            grade_lines.len()
        ));
        seen_by_ci.push(("an earlier GRADE line", grade_lines[0].to_string()));
    }
    if run.stdout.lines().last() != grade_lines.last().copied() {
        problem("the last line of stdout is not the GRADE line".into());
    }

    match json.map(serde_json::from_str::<Value>) {
        Some(Ok(report)) => {
            judged.score = report["score"].as_f64();
            if let Some(got) = judged.score {
                seen_by_ci.push(("results.json", grade_line(lab, got)));
            }
            let got_lost = lost_in(&report);
            if got_lost != lost {
                // The first surprise, explained as the report explains it.
                let surprise = got_lost
                    .symmetric_difference(&lost)
                    .next()
                    .map(|id| {
                        let shown: String = check_output(&report, id).chars().take(1500).collect();
                        format!("; `{id}`: {shown}")
                    })
                    .unwrap_or_default();
                problem(format!("lost {got_lost:?}, expected {lost:?}{surprise}"));
            }
            if let Some(hint) = &entry.hint {
                let shown = check_output(&report, &hint.check);
                if !hint.has.found_in(&shown) {
                    problem(format!(
                        "the explanation of `{}` lacks {}: {shown}",
                        hint.check, hint.has
                    ));
                }
            }
        }
        Some(Err(e)) => problem(format!("results.json is not JSON: {e}")),
        None => problem("no results.json was written".into()),
    }

    match junit {
        Some(xml) => {
            match attribute_after(xml, "<property name=\"grade\"", "value") {
                Some(grade) => seen_by_ci.push(("the JUnit report", grade)),
                None => problem("the JUnit report has no grade property".into()),
            }
            judged.overshoot = overshoot(xml, lab);
        }
        None => problem("no JUnit report was written".into()),
    }

    let wrong: Vec<String> = seen_by_ci
        .iter()
        .filter(|(_, line)| *line != want_line)
        .map(|(place, line)| format!("{place} says `{line}`"))
        .collect();
    if !wrong.is_empty() {
        problem(format!("expected `{want_line}`, but {}", wrong.join("; ")));
        if entry.forges {
            judged.forged_accepted = true;
        }
    }
    judged.problems = problems;
    judged
}

/// Ids of checks with points that did not pass.
fn lost_in(report: &Value) -> BTreeSet<String> {
    report["tests"]
        .as_array()
        .map(|tests| {
            tests
                .iter()
                .filter(|t| {
                    t["max_score"].as_f64() > Some(0.0) && t["extra_data"]["outcome"] != "passed"
                })
                .filter_map(|t| t["extra_data"]["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn check_output(report: &Value, id: &str) -> String {
    report["tests"]
        .as_array()
        .and_then(|tests| tests.iter().find(|t| t["extra_data"]["id"] == id))
        .and_then(|t| t["output"].as_str())
        .unwrap_or("(no such check in the report)")
        .to_string()
}

/// The value of attribute `name` in the first tag starting with `tag`. Attribute values of XML
/// never hold a raw `<`, so the tag ends before the next one.
fn attribute_after(xml: &str, tag: &str, name: &str) -> Option<String> {
    let start = xml.find(tag)?;
    let rest = &xml[start + 1..];
    let tag_text = &rest[..rest.find('<').unwrap_or(rest.len())];
    let key = format!(" {name}=\"");
    let value_start = tag_text.find(&key)? + key.len();
    let value = &tag_text[value_start..];
    let value = &value[..value.find('"')?];
    Some(unescape(value))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// How far the slowest check ran past its deadline. Test cases are in the lab's check order.
fn overshoot(xml: &str, lab: &Lab) -> Duration {
    let mut worst = Duration::ZERO;
    let mut rest = xml;
    let mut checks = lab.checks.iter();
    while let Some(at) = rest.find("<testcase ") {
        rest = &rest[at + 1..];
        let Some(check) = checks.next() else { break };
        let time = attribute_after(rest, "testcase ", "time")
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0);
        let past = Duration::from_secs_f64(time.max(0.0)).saturating_sub(check.timeout);
        worst = worst.max(past);
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_read_from_the_right_tag() {
        let xml = r#"<testsuite><properties><property name="lab" value="x"/><property name="grade" value="GRADE: 7/25 (28.00%)"/></properties><testcase name="a &lt;b&gt;" classname="p" time="1.500"></testcase></testsuite>"#;
        assert_eq!(
            attribute_after(xml, "<property name=\"grade\"", "value").as_deref(),
            Some("GRADE: 7/25 (28.00%)")
        );
        assert_eq!(
            attribute_after(xml, "<testcase ", "time").as_deref(),
            Some("1.500")
        );
    }
}
