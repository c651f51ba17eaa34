//! JUnit XML for GitLab's test report: one test suite named after the lab, one test case per check
//! (`classname` = part title, `name` = check title), failures carrying the same explanation as the
//! terminal.
//!
//! GitLab keeps only the first test case of a repeated classname+name pair, so names are made
//! unique here. An informational (zero-point) check never shows as a failure: it does not decide
//! the grade, so a red mark for it would mislead.
//!
//! A report made for students (see [`crate::Audience`]) has no test case at all for the checks
//! it leaves out: a case, even one without output, would tell its result. The suite's
//! `not_shown` property says how many checks and points are left out.

use std::collections::HashSet;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::{describe_mode, explain};
use crate::model::{CheckResult, Report, Status};

/// The XML could not be produced.
#[derive(Debug, thiserror::Error)]
#[error("could not write the JUnit report as XML: {0}")]
pub struct JunitError(#[from] quick_junit::SerializeError);

/// Builds the JUnit XML document for `report`.
pub fn junit_xml(report: &Report) -> Result<String, JunitError> {
    let mut suite = TestSuite::new(report.lab_name.as_str());
    suite.set_time(report.execution_time);
    suite.add_properties([
        Property::new("lab_title", report.lab_title.as_str()),
        Property::new("lab_source", report.lab_source.as_str()),
        Property::new("lab_digest", report.lab_digest.as_str()),
        Property::new("grader_version", report.grader_version.as_str()),
        Property::new("mode", describe_mode(&report.mode)),
        Property::new("grade", report.grade_line()),
    ]);
    if let Some(sentence) = report.withheld_sentence() {
        suite.add_property(Property::new("not_shown", sentence));
    }

    let mut seen = HashSet::new();
    for check in &report.checks {
        let mut name = check.title.clone();
        if !seen.insert((check.part_title.clone(), name.clone())) {
            // Lab ids are unique, so the suffixed name cannot clash again.
            name = format!("{} [{}]", check.title, check.id);
            seen.insert((check.part_title.clone(), name.clone()));
        }
        suite.add_test_case(test_case(check, name));
    }

    let mut junit = quick_junit::Report::new(report.lab_name.as_str());
    junit.set_time(report.execution_time);
    junit.add_test_suite(suite);
    Ok(junit.to_string()?)
}

fn test_case(check: &CheckResult, name: String) -> TestCase {
    let status = match check.status {
        Status::Passed => TestCaseStatus::success(),
        Status::Failed if check.informational() => TestCaseStatus::success(),
        Status::Failed => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(check.summary.as_str())
                .set_description(explain(check));
            status
        }
        Status::Skipped => {
            let mut status = TestCaseStatus::skipped();
            status
                .set_message(check.summary.as_str())
                .set_description(explain(check));
            status
        }
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(check.part_title.as_str())
        .set_time(check.duration);
    if check.status == Status::Failed && check.informational() {
        // Passing in the report, but what it found is still worth reading.
        case.set_system_out(explain(check));
    }
    case
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn xml() -> String {
        junit_xml(&fixture::report()).expect("serialises")
    }

    #[test]
    fn report_junit_has_one_suite_and_a_case_per_check() {
        let xml = xml();
        assert!(xml.starts_with("<?xml"));
        assert_eq!(xml.matches("<testsuite ").count(), 1);
        assert!(
            xml.contains(
                r#"<testsuite name="ipc-lab" tests="5" skipped="1" errors="0" failures="1""#
            ),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase ").count(), 5);
        assert!(xml.contains(
            r#"<testcase name="SIGINT prints its line and exits 1" classname="Part 1: signals""#
        ));
        assert!(xml.contains(r#"<testcase name="The submission builds" classname="Submission""#));
        // One failure (the informational check passes), one skip.
        assert_eq!(xml.matches("<failure ").count(), 1);
        assert_eq!(xml.matches("<skipped ").count(), 1);
        assert!(
            xml.contains(concat!(
                r#"<failure message="output after SIGINT differs from the expected line">"#,
                "output after SIGINT differs from the expected line\ninput:\n  |SIGINT\n"
            )),
            "{xml}"
        );
    }

    #[test]
    fn report_junit_failure_text_is_the_explanation() {
        let report = fixture::report();
        let parsed = quick_junit::Report::deserialize_from_str(&xml()).expect("parses back");
        assert_eq!(parsed.test_suites.len(), 1);
        let suite = &parsed.test_suites[0];
        let sigint = suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "SIGINT prints its line and exits 1")
            .expect("the SIGINT case");
        match &sigint.status {
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Failure,
                message,
                description,
                ..
            } => {
                assert_eq!(
                    message.as_ref().map(|m| m.as_str()),
                    Some(report.checks[2].summary.as_str())
                );
                assert_eq!(
                    description.as_ref().map(|d| d.as_str()),
                    Some(explain(&report.checks[2]).as_str())
                );
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        let tags = suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "Git tags are present")
            .expect("the tags case");
        assert!(matches!(tags.status, TestCaseStatus::Success { .. }));
        let skipped = suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "The kernel refuses garfield")
            .expect("the skipped case");
        assert!(matches!(skipped.status, TestCaseStatus::Skipped { .. }));
    }

    #[test]
    fn report_junit_for_students_has_no_case_for_hidden_checks() {
        let report = fixture::with_hidden();
        let student = junit_xml(&report.for_audience(crate::Audience::Student)).expect("xml");
        for secret in fixture::SECRETS {
            assert!(!student.contains(secret), "`{secret}` leaked:\n{student}");
        }
        assert!(!student.contains("Later title"), "{student}");
        assert_eq!(student.matches("<testcase ").count(), 5, "{student}");
        assert!(student.contains(r#"name="not_shown" value="2 checks worth 8 points"#));
        assert!(
            student.contains(r#"value="GRADE: 7/15 (46.67%)""#),
            "{student}"
        );

        let instructor = junit_xml(&report).expect("xml");
        for secret in fixture::SECRETS {
            assert!(
                instructor.contains(secret),
                "`{secret}` missing:\n{instructor}"
            );
        }
        assert_eq!(instructor.matches("<testcase ").count(), 7);
        assert!(!instructor.contains("not_shown"));
    }

    #[test]
    fn report_junit_names_are_unique() {
        let mut report = fixture::report();
        let mut twin = report.checks[2].clone();
        twin.id = "sigint_again".into();
        report.checks.push(twin);
        let parsed =
            quick_junit::Report::deserialize_from_str(&junit_xml(&report).expect("serialises"))
                .expect("parses back");
        let mut pairs: Vec<(String, String)> = parsed.test_suites[0]
            .test_cases
            .iter()
            .map(|c| {
                (
                    c.classname
                        .as_ref()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    c.name.as_str().to_string(),
                )
            })
            .collect();
        assert!(
            pairs
                .iter()
                .any(|(_, n)| n == "SIGINT prints its line and exits 1 [sigint_again]")
        );
        let count = pairs.len();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), count);
    }
}
