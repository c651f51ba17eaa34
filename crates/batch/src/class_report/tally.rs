//! The numbers behind the class report, from the results.json files the batch moved into
//! `OUT/json/`: what each student's checks did (and the hint each failure gave), each check's
//! pass rate across the class, how many students got each hint, and the histogram's columns.
//!
//! Only reads and counts; nothing here formats for the page. A results.json is the grader's own
//! file, but its text (hints, names) still came partly from submissions: this module must keep
//! it as plain data and never treat a line a student's program could have printed as a hint.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use crate::row::NOT_GRADED_MARK;

/// Up to this many points, the histogram has one column per point; above, [`WIDE_COLUMNS`].
const POINT_COLUMNS_UP_TO: f64 = 40.0;
const WIDE_COLUMNS: usize = 20;

/// A check's real outcome, as `extra_data.outcome` says (Gradescope itself has no skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Passed,
    Failed,
    Skipped,
}

/// What one student's results.json says about one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSeen {
    pub id: String,
    /// Its name in the results.json (`Part 1: signals - the workspace builds`).
    pub name: String,
    /// Its title in the lab, when the lab has the check; else the name.
    pub title: String,
    pub seen: Seen,
    pub informational: bool,
    pub hint: Option<String>,
}

/// The checks of a results.json the grader wrote; None when it is missing, unreadable, or marked
/// as the file of a submission that could not be graded.
pub fn read_checks(path: &Path) -> Option<Vec<CheckSeen>> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    if doc.get("extra_data")?.get(NOT_GRADED_MARK).is_some() {
        return None;
    }
    let tests = doc.get("tests")?.as_array()?;
    tests
        .iter()
        .map(|test| {
            let extra = test.get("extra_data")?;
            let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(String::from);
            let seen = match extra.get("outcome")?.as_str()? {
                "passed" => Seen::Passed,
                "failed" => Seen::Failed,
                _ => Seen::Skipped,
            };
            let name = text(test.get("name"))?;
            Some(CheckSeen {
                id: text(extra.get("id"))?,
                title: name.clone(),
                name,
                seen,
                informational: extra
                    .get("informational")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
                hint: text(test.get("output")).and_then(|o| hint_of(&o)),
            })
        })
        .collect()
}

/// The hint in a check's explanation (see `report::explain`): the `hint: ` line and the indented
/// lines under it, joined. The first line is the summary and never counts, whatever it says.
fn hint_of(output: &str) -> Option<String> {
    let mut lines = output.lines().skip(1);
    let first = lines.find_map(|l| l.strip_prefix("hint: "))?;
    let mut hint = first.trim().to_string();
    for more in lines.map_while(|l| l.strip_prefix("  ")) {
        hint.push(' ');
        hint.push_str(more.trim());
    }
    Some(hint)
}

/// One check across the class.
#[derive(Debug, Clone, PartialEq)]
pub struct PassRate {
    pub id: String,
    pub name: String,
    pub title: String,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub informational: bool,
}

impl PassRate {
    pub fn seen(&self) -> usize {
        self.passed + self.failed + self.skipped
    }

    /// Passed over seen, 0 for a check nobody was graded on.
    pub fn rate(&self) -> f64 {
        match self.seen() {
            0 => 0.0,
            seen => self.passed as f64 / seen as f64,
        }
    }
}

/// Each check's counts, lowest pass rate first; checks for information only after all that carry
/// points. Ties keep the lab's order (the order checks first appear).
pub fn pass_rates<'a>(class: impl IntoIterator<Item = &'a [CheckSeen]>) -> Vec<PassRate> {
    let mut rates: Vec<PassRate> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for check in class.into_iter().flatten() {
        let i = *index.entry(check.id.clone()).or_insert_with(|| {
            rates.push(PassRate {
                id: check.id.clone(),
                name: check.name.clone(),
                title: check.title.clone(),
                passed: 0,
                failed: 0,
                skipped: 0,
                informational: check.informational,
            });
            rates.len() - 1
        });
        let rate = &mut rates[i];
        match check.seen {
            Seen::Passed => rate.passed += 1,
            Seen::Failed => rate.failed += 1,
            Seen::Skipped => rate.skipped += 1,
        }
    }
    rates.sort_by(|a, b| {
        a.informational
            .cmp(&b.informational)
            .then(a.rate().total_cmp(&b.rate()))
    });
    rates
}

/// One hint and how many students got it.
#[derive(Debug, Clone, PartialEq)]
pub struct HintCount {
    pub hint: String,
    pub students: usize,
    /// Titles of the checks that gave it.
    pub checks: BTreeSet<String>,
}

/// Every hint given, the one most students got first (a student counts once per hint).
pub fn hint_counts<'a>(class: impl IntoIterator<Item = &'a [CheckSeen]>) -> Vec<HintCount> {
    let mut counts: Vec<HintCount> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for checks in class {
        let mut given = BTreeSet::new();
        for check in checks {
            let Some(hint) = &check.hint else { continue };
            let i = *index.entry(hint.clone()).or_insert_with(|| {
                counts.push(HintCount {
                    hint: hint.clone(),
                    students: 0,
                    checks: BTreeSet::new(),
                });
                counts.len() - 1
            });
            counts[i].checks.insert(check.title.clone());
            if given.insert(i) {
                counts[i].students += 1;
            }
        }
    }
    counts.sort_by(|a, b| b.students.cmp(&a.students).then(a.hint.cmp(&b.hint)));
    counts
}

/// One histogram column: scores in `[low, high)`, the last column also holding `high`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub low: f64,
    pub high: f64,
    pub count: usize,
}

/// Columns over `0..=max`: one per point up to [`POINT_COLUMNS_UP_TO`] points, else
/// [`WIDE_COLUMNS`] of equal width. Scores outside are counted in the first or last column; a
/// max of 0 (or not a number) gives one column holding every score.
pub fn buckets(scores: &[f64], max: f64) -> Vec<Bucket> {
    let (n, width) = if !(max > 0.0 && max.is_finite()) {
        (1, 0.0)
    } else if max <= POINT_COLUMNS_UP_TO {
        (max.floor() as usize + 1, 1.0)
    } else {
        (WIDE_COLUMNS, max / WIDE_COLUMNS as f64)
    };
    let mut out: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            low: width * i as f64,
            high: if i + 1 == n {
                max.max(0.0)
            } else {
                width * (i + 1) as f64
            },
            count: 0,
        })
        .collect();
    for &score in scores.iter().filter(|s| !s.is_nan()) {
        let i = if width > 0.0 {
            (score / width).floor().max(0.0) as usize
        } else {
            0
        };
        out[i.min(n - 1)].count += 1;
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A check as one student's report shows it (also used by the page's tests).
    pub(in crate::class_report) fn check(id: &str, seen: Seen, hint: Option<&str>) -> CheckSeen {
        CheckSeen {
            id: id.into(),
            name: format!("Part - {id}"),
            title: format!("Part - {id}"),
            seen,
            informational: false,
            hint: hint.map(String::from),
        }
    }

    #[test]
    fn class_report_pass_rates_put_the_most_failed_check_on_top() {
        use Seen::*;
        let mut info = check("tags", Failed, None);
        info.informational = true;
        let class = [
            vec![
                check("easy", Passed, None),
                check("hard", Failed, Some("try harder")),
                check("mid", Passed, None),
                info.clone(),
            ],
            vec![
                check("easy", Passed, None),
                check("hard", Skipped, None),
                check("mid", Failed, Some("try harder")),
                info,
            ],
        ];
        let slices = || class.iter().map(Vec::as_slice);
        let rates = pass_rates(slices());
        let order: Vec<&str> = rates.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["hard", "mid", "easy", "tags"]);
        assert_eq!(
            (rates[0].failed, rates[0].skipped, rates[0].rate()),
            (1, 1, 0.0)
        );
        assert_eq!(rates[1].rate(), 0.5);
        assert!(pass_rates(std::iter::empty()).is_empty());

        let hints = hint_counts(slices());
        assert_eq!(hints.len(), 1);
        assert_eq!(
            hints[0].students, 2,
            "one per student, however many checks gave it"
        );
        assert_eq!(hints[0].checks.len(), 2);
    }

    #[test]
    fn class_report_buckets_cover_zero_to_max() {
        let b = buckets(
            &[0.0, 0.5, 12.0, 24.9, 25.0, 25.0, f64::NAN, -3.0, 40.0],
            25.0,
        );
        assert_eq!(b.len(), 26);
        assert_eq!(b[0].count, 3, "0, 0.5 and the negative");
        assert_eq!(b[12].count, 1);
        assert_eq!(b[24].count, 1);
        assert_eq!(b[25].count, 3, "25 twice and above max");
        assert_eq!((b[25].low, b[25].high), (25.0, 25.0));
        assert_eq!(
            b.iter().map(|b| b.count).sum::<usize>(),
            8,
            "NaN is left out"
        );

        let half = buckets(&[12.5], 12.5);
        assert_eq!(half.len(), 13);
        assert_eq!(
            (half[12].low, half[12].high, half[12].count),
            (12.0, 12.5, 1)
        );

        let wide = buckets(&[0.0, 50.0, 100.0], 100.0);
        assert_eq!(wide.len(), WIDE_COLUMNS);
        assert_eq!((wide[0].count, wide[10].count, wide[19].count), (1, 1, 1));

        for max in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let one = buckets(&[0.0, 3.0], max);
            assert_eq!(one.len(), 1, "{max}");
            assert_eq!(one[0].count, 2);
        }
        assert_eq!(buckets(&[], 0.0)[0].count, 0);
    }

    #[test]
    fn class_report_reads_hints_and_outcomes_from_a_results_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.json");
        // The layout `report::gradescope_json` writes, the explanation as `report::explain` words it.
        let json = serde_json::json!({
            "score": 7.0,
            "max_score": 15.0,
            "tests": [
                {"name": "Part a - one", "score": 7.0, "max_score": 7.0, "output": "fine",
                 "extra_data": {"id": "one", "outcome": "passed", "informational": false}},
                {"name": "Part b - two", "score": 0.0, "max_score": 8.0,
                 "output": "hint: not this one\nexpected:\n  |hint: nor this\nhint: Read the handout\n  section 2.\nlog:\n  hint: no",
                 "extra_data": {"id": "two", "outcome": "failed", "informational": false}},
            ],
            "extra_data": {"grader_version": "9.9.9", "lab_digest": "0011"},
        });
        std::fs::write(&path, json.to_string()).expect("write");
        let checks = read_checks(&path).expect("checks");
        assert_eq!(checks.len(), 2);
        assert_eq!(
            (checks[0].id.as_str(), checks[0].seen),
            ("one", Seen::Passed)
        );
        assert_eq!(checks[0].hint, None);
        assert_eq!(checks[1].seen, Seen::Failed);
        assert_eq!(
            checks[1].hint.as_deref(),
            Some("Read the handout section 2.")
        );

        let mut marked = json.clone();
        marked["extra_data"][NOT_GRADED_MARK] = "error".into();
        std::fs::write(&path, marked.to_string()).expect("write");
        assert_eq!(read_checks(&path), None);
        assert_eq!(read_checks(&dir.path().join("missing.json")), None);
    }
}
