//! A course gradebook: one batch per lab (`grader batch --lab ipc --lab shm ...`, or
//! `--course course.toml` with weights), each into `OUT/<lab id>/` as a normal batch output, then
//! `OUT/course.csv` with one row per student, the points of each lab, and the weighted total.
//!
//! The total is a percentage: the sum over labs of `weight * score / max`, divided by the sum of
//! the weights, times 100, where `max` is the lab's own maximum. A lab a student has no score in
//! (never submitted, not gradable) counts 0 and its cell is empty. This module only plans the
//! batches and reads back what they wrote; grading stays in `run`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::gradebook::{self, Table};
use report::model::format_points;

/// The course file: the labs, each with its weight and, if it has its own, a roster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CourseFile {
    labs: Vec<CourseFileLab>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CourseFileLab {
    /// A built-in lab's id or a lab file (relative to the course file).
    lab: String,
    #[serde(default = "one")]
    weight: f64,
    /// This lab's roster (relative to the course file) [default: the batch's submissions].
    roster: Option<PathBuf>,
}

fn one() -> f64 {
    1.0
}

/// One lab of the course, as planned.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseLab {
    /// What `--lab` is given: an id or a path.
    pub lab: PathBuf,
    pub weight: f64,
    pub roster: Option<PathBuf>,
}

/// The course's labs from `--course FILE`. Refuses unknown keys, no labs, and weights that are
/// not positive numbers.
pub fn read(path: &Path) -> Result<Vec<CourseLab>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the course file {}: {e}", path.display()))?;
    let file: CourseFile = toml::from_str(&text).map_err(|e| {
        format!(
            "{}: {e}\n  fix: list the labs as [[labs]] tables with `lab` (an id or a file), optional `weight` and `roster`",
            path.display()
        )
    })?;
    if file.labs.is_empty() {
        return Err(format!(
            "{} lists no labs\n  fix: add a [[labs]] table per lab",
            path.display()
        ));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    file.labs
        .into_iter()
        .map(|l| {
            if !(l.weight.is_finite() && l.weight > 0.0) {
                return Err(format!(
                    "{}: lab `{}` has weight {}\n  fix: give every lab a positive weight",
                    path.display(),
                    l.lab,
                    l.weight
                ));
            }
            let given = PathBuf::from(&l.lab);
            // An id stays an id; a file is relative to the course file.
            let lab = if l.lab.contains('/') || l.lab.ends_with(".toml") {
                base.join(given)
            } else {
                given
            };
            Ok(CourseLab {
                lab,
                weight: l.weight,
                roster: l.roster.map(|r| base.join(r)),
            })
        })
        .collect()
}

/// One lab's result, read back from its gradebook.
#[derive(Debug)]
pub struct LabResult {
    /// The lab's id, the column name in course.csv.
    pub id: String,
    pub weight: f64,
    pub max: f64,
    pub table: Table,
}

/// The course gradebook's text: `student`, one column per lab (its points), `total` (the
/// weighted percentage, two decimals). Students in the order first seen, lab by lab.
pub fn render(labs: &[LabResult]) -> String {
    let mut order: Vec<String> = Vec::new();
    let mut scores: BTreeMap<String, BTreeMap<usize, f64>> = BTreeMap::new();
    for (index, lab) in labs.iter().enumerate() {
        for row in &lab.table.rows {
            let student = lab.table.student(row).to_string();
            let entry = scores.entry(student.clone()).or_insert_with(|| {
                order.push(student.clone());
                BTreeMap::new()
            });
            if let Ok(score) = lab.table.cell(row, "score").parse::<f64>() {
                entry.insert(index, score);
            }
        }
    }
    let weights: f64 = labs.iter().map(|l| l.weight).sum();
    let mut header = vec!["student".to_string()];
    header.extend(labs.iter().map(|l| l.id.clone()));
    header.push("total".to_string());
    let rows = order
        .iter()
        .map(|student| {
            let mine = &scores[student];
            let mut cells = vec![gradebook::guard(student)];
            let mut total = 0.0;
            for (index, lab) in labs.iter().enumerate() {
                match mine.get(&index) {
                    Some(&score) => {
                        cells.push(format_points(score));
                        if lab.max > 0.0 {
                            total += lab.weight * score / lab.max;
                        }
                    }
                    None => cells.push(String::new()),
                }
            }
            let percent = if weights > 0.0 {
                100.0 * total / weights
            } else {
                0.0
            };
            cells.push(format!("{percent:.2}"));
            cells
        })
        .collect();
    Table { header, rows }.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(id: &str, weight: f64, max: f64, rows: &[(&str, &str)]) -> LabResult {
        LabResult {
            id: id.into(),
            weight,
            max,
            table: Table {
                header: vec!["student".into(), "score".into()],
                rows: rows
                    .iter()
                    .map(|(s, score)| vec![(*s).to_string(), (*score).to_string()])
                    .collect(),
            },
        }
    }

    #[test]
    fn batch_course_total_is_the_weighted_percentage() {
        let labs = [
            lab(
                "ipc",
                40.0,
                25.0,
                &[("alice", "25"), ("bob", "12.5"), ("carol", "")],
            ),
            lab(
                "shm",
                60.0,
                50.0,
                &[("bob", "50"), ("alice", "25"), ("dave", "10")],
            ),
        ];
        assert_eq!(
            render(&labs),
            "student,ipc,shm,total\r\n\
             alice,25,25,70.00\r\n\
             bob,12.5,50,80.00\r\n\
             carol,,,0.00\r\n\
             dave,,10,12.00\r\n"
        );
    }

    #[test]
    fn batch_course_file_has_labs_weights_and_rosters() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("course.toml");
        std::fs::write(
            &path,
            "[[labs]]\nlab = \"ipc\"\nweight = 40\n\n[[labs]]\nlab = \"labs/mine.toml\"\nroster = \"r.csv\"\n",
        )
        .expect("write");
        let labs = read(&path).expect("course");
        assert_eq!(labs[0].lab, PathBuf::from("ipc"));
        assert_eq!(labs[0].weight, 40.0);
        assert_eq!(labs[1].lab, dir.path().join("labs/mine.toml"));
        assert_eq!(labs[1].weight, 1.0);
        assert_eq!(labs[1].roster, Some(dir.path().join("r.csv")));
        for bad in [
            "[[labs]]\nlab = \"ipc\"\nweight = 0\n",
            "[[labs]]\nlab = \"ipc\"\nwieght = 2\n",
            "labs = []\n",
        ] {
            std::fs::write(&path, bad).expect("write");
            let err = read(&path).expect_err(bad);
            assert!(err.contains("fix:"), "{err}");
        }
    }
}
