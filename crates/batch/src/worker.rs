//! The worker: the child process a batch starts for one submission (`grader batch --worker SLOT
//! --stage PREFIX DIR`). It grades the submission in its slot, exactly as `grader grade` would but
//! as the slot's own users, writes the reports next to `PREFIX`, and prints one [`Outcome`] line
//! on stdout. One process per submission means a grader crash, a hang or a leak in one submission
//! can cost that submission's row only.
//!
//! The worker must print nothing else on stdout, and must never decide a status from anything but
//! the grader's own report and errors (see `row`).

use std::path::Path;
use std::process::ExitCode;

use serde_json::json;

use super::outputs::with_suffix;
use super::row::{NOT_GRADED_MARK, Outcome, RowStatus};
use engine::Registry;
use engine::grade::{self, Options};
use lab::Lab;

/// Grades `dir` and reports; exit status 0 when the outcome is `graded` or `error`, 2 for
/// `infra` (the batch reads the outcome line either way).
pub fn run(lab: &Lab, registry: &Registry, dir: &Path, stage: &Path, opts: &Options) -> ExitCode {
    let outcome = grade_and_write(lab, registry, dir, stage, opts);
    if outcome.status != RowStatus::Graded {
        eprintln!(
            "grader: {}: {}",
            outcome.status.label(),
            outcome.detail.replace('\n', "\n  ")
        );
    }
    let line = serde_json::to_string(&outcome).unwrap_or_else(|e| {
        // Cannot happen for these plain fields; the batch sees no outcome and says `infra`.
        eprintln!("grader: cannot encode the outcome: {e}");
        String::new()
    });
    println!("{line}");
    ExitCode::from(if outcome.status == RowStatus::Infra {
        engine::exit::EXIT_ERROR
    } else {
        engine::exit::EXIT_PASSED
    })
}

fn grade_and_write(
    lab: &Lab,
    registry: &Registry,
    dir: &Path,
    stage: &Path,
    opts: &Options,
) -> Outcome {
    if let Err(e) = sandbox::become_subreaper() {
        return Outcome::failed(RowStatus::Infra, &lab.digest, e.to_string());
    }
    match grade::grade(lab, registry, dir, opts) {
        Ok(report) => match write_reports(&report, stage) {
            Ok(()) => Outcome::graded(&report),
            Err(why) => Outcome::failed(RowStatus::Infra, &lab.digest, why),
        },
        Err(e) if e.blames_submission() => {
            let why = format!("could not grade this submission: {e}");
            match write_not_graded(lab, &why, stage) {
                Ok(()) => Outcome::failed(RowStatus::Error, &lab.digest, why),
                Err(write) => Outcome::failed(RowStatus::Infra, &lab.digest, write),
            }
        }
        Err(e) => Outcome::failed(RowStatus::Infra, &lab.digest, e.to_string()),
    }
}

fn write_reports(report: &report::model::Report, stage: &Path) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(&report::gradescope_json(report))
        .map_err(|e| format!("cannot encode the JSON report: {e}"))?;
    let xml = report::junit_xml(report).map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    report::write_terminal(report, &mut text, false)
        .map_err(|e| format!("cannot format the report: {e}"))?;
    for (ext, bytes) in [
        ("json", json.as_slice()),
        ("xml", xml.as_bytes()),
        ("txt", &text),
    ] {
        report::write_atomically(&with_suffix(stage, ext), bytes).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Reports for a submission that could not be graded: a results.json with no score and the
/// reason (marked so a later batch never keeps it as a good result), and a JUnit file with one
/// failed case saying the same.
fn write_not_graded(lab: &Lab, why: &str, stage: &Path) -> Result<(), String> {
    let doc = json!({
        "score": 0.0,
        "max_score": lab.max_points(),
        "execution_time": 0.0,
        "output": why,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "visible",
        "tests": [],
        "extra_data": {
            "grader_version": env!("CARGO_PKG_VERSION"),
            "lab_name": lab.name,
            "lab_digest": lab.digest,
            "lab_source": lab.source,
            NOT_GRADED_MARK: "error",
        },
    });
    let json =
        serde_json::to_vec_pretty(&doc).map_err(|e| format!("cannot encode the JSON: {e}"))?;
    let mut status = quick_junit::TestCaseStatus::non_success(quick_junit::NonSuccessKind::Error);
    status.set_message(why);
    let mut case = quick_junit::TestCase::new("the submission can be graded", status);
    case.set_classname("Submission");
    let mut suite = quick_junit::TestSuite::new(lab.name.as_str());
    suite.add_test_case(case);
    let mut junit = quick_junit::Report::new(lab.name.as_str());
    junit.add_test_suite(suite);
    let xml = junit
        .to_string()
        .map_err(|e| format!("cannot write the JUnit XML: {e}"))?;
    report::write_atomically(&with_suffix(stage, "json"), &json).map_err(|e| e.to_string())?;
    report::write_atomically(&with_suffix(stage, "xml"), xml.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(())
}
