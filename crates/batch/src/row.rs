//! One gradebook row, and the outcome a worker reports for one submission.
//!
//! A worker (one `grader batch --worker` process per submission) prints exactly one [`Outcome`]
//! as JSON on its stdout, which the batch redirects to a file of its own; the batch turns it into
//! a [`Row`]. Status is decided here and nowhere else: `graded` (the grader ran every check; the
//! score may be anything), `error` (the submission itself could not be graded: missing, not a
//! directory, too large), `infra` (the grader or the machine failed). Nothing a student's program
//! prints ever reaches an outcome: workers build it from the grader's own report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use report::model::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    Graded,
    Error,
    Infra,
    /// Not graded yet (a gradebook written while the batch runs, or after it was stopped).
    Pending,
}

impl RowStatus {
    pub fn label(self) -> &'static str {
        match self {
            RowStatus::Graded => "graded",
            RowStatus::Error => "error",
            RowStatus::Infra => "infra",
            RowStatus::Pending => "pending",
        }
    }
}

/// Points of one part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartScore {
    pub id: String,
    pub score: f64,
    pub max: f64,
}

/// What a worker found for one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: RowStatus,
    pub score: Option<f64>,
    pub max: Option<f64>,
    pub parts: Vec<PartScore>,
    pub grader_version: String,
    pub lab_digest: String,
    /// Why, for `error` and `infra`; the grade line for `graded`.
    pub detail: String,
}

impl Outcome {
    pub fn graded(report: &Report) -> Outcome {
        Outcome {
            status: RowStatus::Graded,
            score: Some(report.score()),
            max: Some(report.max_score()),
            parts: report
                .parts
                .iter()
                .map(|(id, _)| {
                    let (score, max) = report.part_score(id);
                    PartScore {
                        id: id.clone(),
                        score,
                        max,
                    }
                })
                .collect(),
            grader_version: report.grader_version.clone(),
            lab_digest: report.lab_digest.clone(),
            detail: report.grade_line(),
        }
    }

    /// An outcome without a score (`error` or `infra`).
    pub fn failed(status: RowStatus, lab_digest: &str, detail: impl Into<String>) -> Outcome {
        Outcome {
            status,
            score: None,
            max: None,
            parts: Vec::new(),
            grader_version: env!("CARGO_PKG_VERSION").to_string(),
            lab_digest: lab_digest.to_string(),
            detail: detail.into(),
        }
    }

    /// The outcome line a worker wrote: the last line that parses. None when there is none (the
    /// worker crashed before it could say anything).
    pub fn read_from(text: &str) -> Option<Outcome> {
        text.lines()
            .rev()
            .find_map(|line| serde_json::from_str(line.trim()).ok())
    }
}

/// One line of the gradebook.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub student: String,
    pub dir: PathBuf,
    pub status: RowStatus,
    pub score: Option<f64>,
    pub max: Option<f64>,
    /// Part id -> points.
    pub parts: BTreeMap<String, f64>,
    pub grader_version: String,
    pub lab_digest: String,
    /// Wall time the worker took, in seconds.
    pub seconds: Option<f64>,
    pub detail: String,
}

impl Row {
    pub fn pending(student: &str, dir: &Path) -> Row {
        Row {
            student: student.to_string(),
            dir: dir.to_path_buf(),
            status: RowStatus::Pending,
            score: None,
            max: None,
            parts: BTreeMap::new(),
            grader_version: String::new(),
            lab_digest: String::new(),
            seconds: None,
            detail: String::new(),
        }
    }

    pub fn from_outcome(student: &str, dir: &Path, outcome: Outcome, seconds: f64) -> Row {
        Row {
            student: student.to_string(),
            dir: dir.to_path_buf(),
            status: outcome.status,
            score: outcome.score,
            max: outcome.max,
            parts: outcome.parts.into_iter().map(|p| (p.id, p.score)).collect(),
            grader_version: outcome.grader_version,
            lab_digest: outcome.lab_digest,
            seconds: Some(seconds),
            detail: outcome.detail,
        }
    }

    /// Keeps the score of an earlier good result on an `infra` row, saying so.
    pub fn keep_earlier(&mut self, earlier: Earlier, from: &Path) {
        self.score = Some(earlier.score);
        self.max = Some(earlier.max);
        self.parts = earlier.parts;
        self.grader_version = earlier.grader_version;
        self.lab_digest = earlier.lab_digest;
        self.detail = format!(
            "{}; the score is the earlier result kept in {}",
            self.detail,
            from.display()
        );
    }
}

/// A good result of an earlier batch, read back from its `results.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Earlier {
    pub score: f64,
    pub max: f64,
    pub parts: BTreeMap<String, f64>,
    pub grader_version: String,
    pub lab_digest: String,
}

/// Marker a batch puts in the `extra_data` of a results.json it wrote for a submission it could
/// not grade, so that file is never taken for an earlier good result.
pub const NOT_GRADED_MARK: &str = "batch_status";

impl Earlier {
    /// Reads a results.json the grader wrote. None when it is missing, unreadable, or not the
    /// result of a completed grading run.
    pub fn read(path: &Path) -> Option<Earlier> {
        let text = std::fs::read_to_string(path).ok()?;
        let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
        let extra = doc.get("extra_data")?;
        if extra.get(NOT_GRADED_MARK).is_some() {
            return None;
        }
        let tests = doc.get("tests")?.as_array()?;
        let mut parts = BTreeMap::new();
        for test in tests {
            let part = test.get("tags")?.get(0)?.as_str()?;
            *parts.entry(part.to_string()).or_insert(0.0) += test.get("score")?.as_f64()?;
        }
        let text_of = |key: &str| extra.get(key).and_then(|v| v.as_str()).map(str::to_string);
        Some(Earlier {
            score: doc.get("score")?.as_f64()?,
            max: doc.get("max_score")?.as_f64()?,
            parts,
            grader_version: text_of("grader_version")?,
            lab_digest: text_of("lab_digest")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_outcome_is_the_last_line_that_parses() {
        let line = serde_json::to_string(&Outcome::failed(RowStatus::Error, "abc", "missing"))
            .expect("encode");
        let text = format!("noise\n{line}\n");
        let outcome = Outcome::read_from(&text).expect("parsed");
        assert_eq!(outcome.status, RowStatus::Error);
        assert_eq!(outcome.detail, "missing");
        assert_eq!(Outcome::read_from("garbage\n"), None);
        assert_eq!(Outcome::read_from(""), None);
    }

    /// A small finished report: one passed check in part `a`, one failed in part `b`.
    pub(crate) fn sample_report() -> Report {
        use report::model::{CheckResult, Evidence, RunMode, Status};
        let check = |id: &str, part: &str, points: f64, max: f64, status| CheckResult {
            id: id.into(),
            title: format!("check {id}"),
            part: part.into(),
            part_title: format!("Part {part}"),
            max_points: max,
            points,
            status,
            summary: "summary".into(),
            evidence: Evidence::default(),
            duration: std::time::Duration::from_millis(5),
            visibility: report::model::Visibility::Visible,
        };
        Report {
            lab_name: "demo".into(),
            lab_title: "Demo".into(),
            lab_source: "test".into(),
            lab_digest: "0011223344556677".into(),
            grader_version: "9.9.9".into(),
            submission: PathBuf::from("/subs/alice"),
            mode: RunMode::Unprivileged { user: "me".into() },
            parts: vec![("a".into(), "Part a".into()), ("b".into(), "Part b".into())],
            checks: vec![
                check("one", "a", 7.0, 7.0, Status::Passed),
                check("two", "b", 0.0, 8.0, Status::Failed),
            ],
            notices: Vec::new(),
            execution_time: std::time::Duration::from_millis(20),
            withheld: Vec::new(),
        }
    }

    #[test]
    fn batch_outcome_of_a_report_has_part_scores() {
        let outcome = Outcome::graded(&sample_report());
        assert_eq!(outcome.status, RowStatus::Graded);
        assert_eq!((outcome.score, outcome.max), (Some(7.0), Some(15.0)));
        let parts: Vec<(&str, f64, f64)> = outcome
            .parts
            .iter()
            .map(|p| (p.id.as_str(), p.score, p.max))
            .collect();
        assert_eq!(parts, [("a", 7.0, 7.0), ("b", 0.0, 8.0)]);
        assert_eq!(outcome.grader_version, "9.9.9");
    }

    #[test]
    fn batch_earlier_result_comes_from_a_real_report_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.json");
        let report = report::gradescope_json(&sample_report());
        std::fs::write(&path, report.to_string()).expect("write");
        let earlier = Earlier::read(&path).expect("earlier");
        assert_eq!(earlier.score, 7.0);
        assert_eq!(earlier.max, 15.0);
        assert_eq!(earlier.parts.values().sum::<f64>(), 7.0);
        let mut marked = report.clone();
        marked["extra_data"][NOT_GRADED_MARK] = "error".into();
        std::fs::write(&path, marked.to_string()).expect("write");
        assert_eq!(Earlier::read(&path), None);
        assert_eq!(Earlier::read(&dir.path().join("none.json")), None);
    }
}
