//! Gradescope's `results.json`: the score, one entry per check with the same explanation the
//! terminal shows, and the lab's identity under `extra_data` so a regrade can be traced to the exact
//! lab definition.
//!
//! Gradescope knows only `passed` and `failed`. A check that did not run (skipped) or only informs
//! (zero points) gets no `status` at all, so Gradescope shows it neutral instead of red; its output
//! says why (`skipped: ...`), and `extra_data.outcome` keeps the real outcome. This module must
//! never put anything a student's program printed into a score or a status: those come only from
//! the report.
//!
//! Give it the full report: every test carries the lab's `visibility` as it is, and Gradescope
//! itself decides what a student sees and when (it always shows instructors everything, and hides
//! a student's total while `after_due_date` or `after_published` tests are hidden). The overall
//! `output`, which students always see, is written from the students' view, so its grade line
//! says nothing about checks they may not see yet.

use serde_json::{Value, json};

use super::{Tally, describe_mode, explain, parts_in_order};
use crate::Audience;
use crate::model::{CheckResult, Report, RunMode, Status};

/// Builds Gradescope's `results.json` document for `report`.
pub fn gradescope_json(report: &Report) -> Value {
    let mut tests = Vec::new();
    for (part_index, part) in parts_in_order(report).iter().enumerate() {
        for (check_index, check) in part.checks.iter().enumerate() {
            tests.push(test_entry(
                check,
                part.title,
                &format!("{}.{}", part_index + 1, check_index + 1),
            ));
        }
    }

    json!({
        "score": report.score(),
        "max_score": report.max_score(),
        "execution_time": seconds(report.execution_time),
        "output": overall_output(report),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "visible",
        "tests": tests,
        "extra_data": {
            "grader_version": report.grader_version,
            "lab_name": report.lab_name,
            "lab_digest": report.lab_digest,
            "lab_source": report.lab_source,
            "mode": mode_json(&report.mode),
        },
    })
}

fn test_entry(check: &CheckResult, part_title: &str, number: &str) -> Value {
    let (status, output) = match check.status {
        Status::Passed => (Some("passed"), check.summary.clone()),
        Status::Failed if check.informational() => (None, explain(check)),
        Status::Failed => (Some("failed"), explain(check)),
        Status::Skipped => (None, explain(check)),
    };
    let mut entry = json!({
        "name": format!("{part_title} - {}", check.title),
        "number": number,
        "score": check.points,
        "max_score": check.max_points,
        "output": output,
        "output_format": "text",
        "tags": [check.part],
        "visibility": check.visibility.gradescope_name(),
        // Gradescope has no skipped status; keep the real outcome and the lab's check id for
        // gradebooks and tools that read this file.
        "extra_data": {
            "id": check.id,
            "outcome": match check.status {
                Status::Passed => "passed",
                Status::Failed => "failed",
                Status::Skipped => "skipped",
            },
            "informational": check.informational(),
        },
    });
    if let Some(status) = status {
        entry["status"] = json!(status);
    }
    entry
}

/// The short text at the top of the results page: grade, tally and any notices, as a student
/// before the due date may read them.
fn overall_output(report: &Report) -> String {
    let shown = report.for_audience(Audience::Student);
    let mut text = format!("{}\n{}.", shown.grade_line(), Tally::of(&shown).sentence());
    if let Some(sentence) = shown.withheld_sentence() {
        text.push_str(&format!("\n{sentence}."));
    }
    text.push_str(&format!("\nMode: {}.", describe_mode(&report.mode)));
    for notice in &report.notices {
        text.push_str("\nNote: ");
        text.push_str(notice);
    }
    text
}

fn mode_json(mode: &RunMode) -> Value {
    match mode {
        RunMode::Privileged { users } => {
            let mut out = json!({ "kind": "privileged" });
            let role = |id: &str| users.iter().find(|(r, _)| r == id).map(|(_, u)| u.clone());
            if let (Some(owner), Some(confined)) = (role("owner"), role("confined")) {
                out["owner_user"] = json!(owner);
                out["confined_user"] = json!(confined);
            }
            out["users"] = users
                .iter()
                .map(|(role, user)| (role.clone(), json!(user)))
                .collect::<serde_json::Map<String, Value>>()
                .into();
            out
        }
        RunMode::Unprivileged { user } => json!({ "kind": "unprivileged", "user": user }),
    }
}

/// Seconds with millisecond precision: more digits would only be noise.
fn seconds(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Top-level fields of Gradescope's results format (see the engineering notes), plus `extra_data`,
/// which Gradescope keeps as it is, and `max_score`, which this grader adds for readers. The tests
/// of this module and of the Gradescope adapter check documents against this list.
pub const TOP_LEVEL_FIELDS: &[&str] = &[
    "score",
    "max_score",
    "execution_time",
    "output",
    "output_format",
    "visibility",
    "stdout_visibility",
    "tests",
    "extra_data",
];

/// Per-test fields Gradescope defines, with its optional `extra_data` (the check id and the real
/// outcome).
pub const TEST_FIELDS: &[&str] = &[
    "score",
    "max_score",
    "status",
    "name",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    fn sorted(list: &[&'static str]) -> Vec<&'static str> {
        let mut list = list.to_vec();
        list.sort_unstable();
        list
    }

    #[test]
    fn report_gradescope_fields_match_the_spec() {
        let doc = gradescope_json(&fixture::report());
        assert_eq!(keys(&doc), sorted(TOP_LEVEL_FIELDS));
        let tests = doc["tests"].as_array().expect("tests is an array");
        assert_eq!(tests.len(), 5);
        for test in tests {
            // A neutral (skipped or information-only) test leaves `status` to Gradescope.
            let neutral = test["extra_data"]["outcome"] == "skipped"
                || test["extra_data"]["informational"] == true;
            let want: Vec<&str> = TEST_FIELDS
                .iter()
                .copied()
                .filter(|f| !(neutral && *f == "status"))
                .collect();
            assert_eq!(keys(test), sorted(&want));
        }
        assert_eq!(
            keys(&doc["extra_data"]),
            [
                "grader_version",
                "lab_digest",
                "lab_name",
                "lab_source",
                "mode"
            ]
        );
    }

    #[test]
    fn report_gradescope_types_and_values() {
        let doc = gradescope_json(&fixture::report());
        assert_eq!(doc["score"].as_f64(), Some(7.0));
        assert_eq!(doc["max_score"].as_f64(), Some(15.0));
        assert_eq!(doc["execution_time"].as_f64(), Some(4.321));
        assert!(
            doc["output"]
                .as_str()
                .expect("a string")
                .starts_with("GRADE: 7/15")
        );
        assert_eq!(doc["output_format"], "text");
        for key in ["visibility", "stdout_visibility"] {
            assert_eq!(doc[key], "visible");
        }
        assert_eq!(doc["extra_data"]["mode"]["kind"], "unprivileged");
        assert_eq!(
            doc["extra_data"]["lab_digest"],
            "0123456789abcdef0123456789abcdef"
        );

        let tests = doc["tests"].as_array().expect("tests is an array");
        let numbers: Vec<&str> = tests
            .iter()
            .map(|t| t["number"].as_str().expect("number is a string"))
            .collect();
        // Grouped by part: the informational tag check belongs to the first part.
        assert_eq!(numbers, ["1.1", "1.2", "2.1", "2.2", "3.1"]);
        for test in tests {
            assert!(test["score"].is_number() && test["max_score"].is_number());
            assert_eq!(test["output_format"], "text");
            assert_eq!(test["visibility"], "visible");
            assert!(
                test["tags"]
                    .as_array()
                    .expect("tags")
                    .iter()
                    .all(Value::is_string)
            );
        }

        let pass = &tests[0];
        assert_eq!(pass["name"], "Submission - The submission builds");
        assert_eq!(pass["status"], "passed");
        assert_eq!(pass["output"], "cargo build succeeded");
        assert_eq!(pass["tags"], json!(["submission"]));

        let fail = &tests[3];
        assert_eq!(fail["status"], "failed");
        assert_eq!(fail["score"].as_f64(), Some(0.0));
        assert_eq!(fail["max_score"].as_f64(), Some(3.0));
        assert!(
            fail["output"]
                .as_str()
                .expect("output")
                .contains("|SIGINT received!··\\r")
        );

        let skip = &tests[4];
        assert!(skip.get("status").is_none(), "skipped is neutral: {skip}");
        assert!(
            skip["output"]
                .as_str()
                .expect("output")
                .starts_with("skipped: ")
        );
    }

    #[test]
    fn report_gradescope_carries_each_visibility_and_the_full_score() {
        let doc = gradescope_json(&fixture::with_hidden());
        assert_eq!(doc["score"].as_f64(), Some(10.0));
        assert_eq!(doc["max_score"].as_f64(), Some(23.0));
        let tests = doc["tests"].as_array().expect("tests");
        let visibility = |id: &str| {
            tests
                .iter()
                .find(|t| t["extra_data"]["id"] == id)
                .map(|t| t["visibility"].clone())
        };
        assert_eq!(visibility("hidden"), Some(json!("hidden")));
        assert_eq!(visibility("later"), Some(json!("after_due_date")));
        assert_eq!(visibility("build"), Some(json!("visible")));
        let hidden = tests
            .iter()
            .find(|t| t["extra_data"]["id"] == "hidden")
            .expect("hidden test");
        // Gradescope shows it to instructors only, in full.
        assert!(
            hidden["output"]
                .as_str()
                .expect("output")
                .contains(fixture::SECRETS[4])
        );
        // The overall output is for students: their grade line, and what is not shown.
        let output = doc["output"].as_str().expect("output");
        assert!(output.starts_with("GRADE: 7/15 (46.67%)\n"), "{output}");
        assert!(
            output.contains("2 checks worth 8 points are not shown"),
            "{output}"
        );
        for secret in fixture::SECRETS {
            assert!(!output.contains(secret), "{output}");
        }
    }
}
