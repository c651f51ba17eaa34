//! Hidden and after-due-date checks (lab key `visibility`): how the lab file names them, and what
//! the real `grader grade` shows each audience of grader/tests/visibility/ (one check of each
//! visibility, on plain files, so nothing is built). Every text a student may not see yet holds
//! the marker `zq7`.

mod support;

use std::path::{Path, PathBuf};

use grader::lab::{Lab, LabError, Problem, Visibility};
use serde_json::Value;
use support::{grader, repo_root};

/// Texts of the checks students may not see before the due date, one of each kind of detail.
const HIDDEN_TEXTS: [&str; 4] = [
    "Hidden title zq7",
    "hidden expected zq7",
    "hidden actual zq7",
    "Hidden hint zq7",
];
const LATER_TEXTS: [&str; 5] = [
    "After-due-date title zq7",
    "After-published title zq7",
    "published expected zq7",
    "published actual zq7",
    "Published hint zq7",
];

fn lab_path() -> PathBuf {
    repo_root().join("grader/tests/visibility/lab.toml")
}

fn lab_text() -> String {
    std::fs::read_to_string(lab_path()).expect("the test lab")
}

fn parse(text: &str) -> Result<Lab, LabError> {
    Lab::parse(text, "visibility.toml", grader::catalog::registry().kinds())
}

fn problems(text: &str) -> Vec<Problem> {
    match parse(text) {
        Err(LabError::Invalid { problems, .. }) => problems,
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("expected the lab to be rejected"),
    }
}

/// The 1-based line of the first line of `text` equal to `line`.
fn line_of(text: &str, line: &str) -> usize {
    text.lines()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("test setup: no line `{line}`"))
        + 1
}

#[test]
fn each_visibility_is_read_and_the_default_is_visible() {
    let lab = parse(&lab_text()).expect("the test lab is valid");
    let got: Vec<(&str, Visibility)> = lab
        .checks
        .iter()
        .map(|c| (c.id.as_str(), c.visibility))
        .collect();
    assert_eq!(
        got,
        [
            ("shown", Visibility::Visible),
            ("secret", Visibility::Hidden),
            ("due", Visibility::AfterDueDate),
            ("published", Visibility::AfterPublished),
        ]
    );
}

#[test]
fn every_built_in_lab_keeps_every_check_visible() {
    let catalog = grader::catalog::catalog();
    for builtin in &catalog.labs {
        let lab = catalog
            .load(Some(Path::new(builtin.id)))
            .unwrap_or_else(|e| panic!("{}: {e}", builtin.id));
        for check in &lab.checks {
            assert_eq!(
                check.visibility,
                Visibility::Visible,
                "{}: {}",
                builtin.id,
                check.id
            );
        }
    }
}

#[test]
fn an_unknown_visibility_names_its_line_and_the_four_values() {
    let text = lab_text().replacen("visibility = \"hidden\"", "visibility = \"secret\"", 1);
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].message, "`secret` is not a visibility");
    assert_eq!(p[0].line, line_of(&text, "visibility = \"secret\""));
    assert_eq!(p[0].column, "visibility = ".len() + 1);
    for name in ["visible", "hidden", "after_due_date", "after_published"] {
        assert!(p[0].fix.contains(&format!("\"{name}\"")), "{:?}", p[0]);
    }

    // Gradescope's names exactly: no other spelling slips through.
    let text = lab_text().replacen("\"after_due_date\"", "\"after-due-date\"", 1);
    assert_eq!(
        problems(&text)[0].message,
        "`after-due-date` is not a visibility"
    );

    let text = lab_text().replacen("visibility = \"hidden\"", "visibility = 2", 1);
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].line, line_of(&text, "visibility = 2"), "{p:?}");
}

#[test]
fn a_check_cannot_depend_on_one_shown_later() {
    // `due` is shown after the due date: skipped because `secret` failed, it would tell students
    // that the hidden check failed.
    let text = lab_text().replacen(
        "path = \"due.txt\"",
        "path = \"due.txt\"\ndepends_on = [\"secret\"]",
        1,
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].message
            .contains("check `due` (after_due_date) depends on `secret` (hidden)"),
        "{p:?}"
    );
    assert_eq!(p[0].line, line_of(&text, "depends_on = [\"secret\"]"));

    // The other way round is fine: a hidden check may depend on a visible one.
    let text = lab_text().replacen(
        "path = \"hidden.txt\"",
        "path = \"hidden.txt\"\ndepends_on = [\"shown\"]",
        1,
    );
    parse(&text).expect("a hidden check may depend on a visible one");
}

/// One real `grader grade` run of the test submission.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    junit: String,
    json: Value,
}

fn grade_as(audience: Option<&str>) -> Run {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let (json, junit) = (
        out_dir.path().join("results.json"),
        out_dir.path().join("junit.xml"),
    );
    let mut cmd = grader();
    cmd.arg("grade")
        .arg(repo_root().join("grader/tests/visibility/submission"))
        .arg("--lab")
        .arg(lab_path())
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit);
    if let Some(audience) = audience {
        cmd.arg("--audience").arg(audience);
    }
    let out = cmd.output().expect("run the grader");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let read = |path: &Path| {
        std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!(
                "no {} ({e}); stdout:\n{stdout}\nstderr:\n{}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    Run {
        code: out.status.code().unwrap_or(-1),
        junit: read(&junit),
        json: serde_json::from_str(&read(&json)).expect("valid JSON"),
        stdout,
    }
}

/// The student's report shown in labs/README.md, "Hidden and after-due-date checks".
fn guide_transcript() -> String {
    let guide = std::fs::read_to_string(repo_root().join("labs/README.md")).expect("guide");
    let section = guide
        .split("## Hidden and after-due-date checks")
        .nth(1)
        .expect("the guide's section on visibility");
    let block = section
        .split("```text\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a text block in that section");
    block.to_string()
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or_default()
}

#[test]
fn students_see_no_hidden_details_and_a_grade_of_what_they_see() {
    let run = grade_as(None);
    for secret in HIDDEN_TEXTS.iter().chain(&LATER_TEXTS) {
        assert!(
            !run.stdout.contains(secret),
            "`{secret}` leaked:\n{}",
            run.stdout
        );
        assert!(
            !run.junit.contains(secret),
            "`{secret}` leaked:\n{}",
            run.junit
        );
    }
    for line in [
        "  ----  ?/2  1 hidden check",
        "  ----  ?/3  1 check shown after the due date",
        "  ----  ?/4  1 check shown once grades are published",
        "1 check: 1 passed, 0 failed, 0 skipped",
        "3 checks worth 9 points are not shown (1 hidden, 1 shown after the due date, 1 shown \
         once grades are published); the grade counts only the checks shown",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "no line `{line}` in:\n{}",
            run.stdout
        );
    }
    assert_eq!(
        last_line(&run.stdout),
        "GRADE: 1/1 (100.00%)",
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with(&guide_transcript()),
        "labs/README.md's transcript is not the end of:\n{}",
        run.stdout
    );
    // Every check the student sees passed; the failed hidden one must not turn the job red.
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.junit.matches("<testcase ").count(), 1, "{}", run.junit);
    assert!(
        run.junit
            .contains(r#"<property name="not_shown" value="3 checks worth 9 points"#)
    );

    // results.json is Gradescope's, complete: it applies each test's visibility itself.
    assert_eq!(run.json["score"].as_f64(), Some(4.0));
    assert_eq!(run.json["max_score"].as_f64(), Some(10.0));
    let tests = run.json["tests"].as_array().expect("tests");
    let visibility: Vec<(&str, &str)> = tests
        .iter()
        .map(|t| {
            (
                t["extra_data"]["id"].as_str().expect("id"),
                t["visibility"].as_str().expect("visibility"),
            )
        })
        .collect();
    assert_eq!(
        visibility,
        [
            ("shown", "visible"),
            ("secret", "hidden"),
            ("due", "after_due_date"),
            ("published", "after_published"),
        ]
    );
    let secret = &tests[1];
    assert_eq!(secret["name"], "Part A: files - Hidden title zq7");
    assert!(
        secret["output"]
            .as_str()
            .expect("output")
            .contains("Hidden hint zq7")
    );
    // Its overall output, which students always see, is the students' view.
    let output = run.json["output"].as_str().expect("output");
    assert!(output.starts_with("GRADE: 1/1 (100.00%)\n"), "{output}");
    assert!(!output.contains("zq7"), "{output}");
}

#[test]
fn the_instructor_sees_every_check_in_full() {
    let run = grade_as(Some("instructor"));
    for text in HIDDEN_TEXTS.iter().chain(&LATER_TEXTS) {
        assert!(
            run.stdout.contains(text),
            "`{text}` missing:\n{}",
            run.stdout
        );
        assert!(run.junit.contains(text), "`{text}` missing:\n{}", run.junit);
    }
    assert!(
        run.stdout
            .lines()
            .any(|l| l == "  FAIL  0/2  Hidden title zq7  [hidden]"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("not shown"), "{}", run.stdout);
    assert_eq!(
        last_line(&run.stdout),
        "GRADE: 4/10 (40.00%)",
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.junit.matches("<testcase ").count(), 4, "{}", run.junit);
}

#[test]
fn once_released_students_see_after_due_date_checks_but_not_hidden_ones() {
    let run = grade_as(Some("released"));
    for text in LATER_TEXTS {
        assert!(
            run.stdout.contains(text),
            "`{text}` missing:\n{}",
            run.stdout
        );
    }
    for secret in HIDDEN_TEXTS {
        assert!(
            !run.stdout.contains(secret),
            "`{secret}` leaked:\n{}",
            run.stdout
        );
        assert!(
            !run.junit.contains(secret),
            "`{secret}` leaked:\n{}",
            run.junit
        );
    }
    assert!(
        run.stdout.contains(
            "\n1 check worth 2 points is not shown (1 hidden); the grade counts only the checks shown\n"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        last_line(&run.stdout),
        "GRADE: 4/8 (50.00%)",
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 1, "the after-published check failed");
}

#[test]
fn the_batch_report_of_a_student_is_the_instructors_view() {
    let work = tempfile::tempdir().expect("tempdir");
    let alice = work.path().join("subs/alice");
    support::copy_tree(
        &repo_root().join("grader/tests/visibility/submission"),
        &alice,
    );
    // As root the batch's slot users read the copy.
    let out = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(work.path())
        .status()
        .expect("chmod");
    assert!(out.success());
    let out_dir = work.path().join("out");
    let run = grader()
        .arg("batch")
        .arg("--lab")
        .arg(lab_path())
        .arg("--out")
        .arg(&out_dir)
        .args(["--jobs", "1"])
        .arg(&alice)
        .output()
        .expect("run grader batch");
    let report = std::fs::read_to_string(out_dir.join("reports/alice.txt"))
        .unwrap_or_else(|e| panic!("no report ({e}): {}", String::from_utf8_lossy(&run.stderr)));
    for text in HIDDEN_TEXTS.iter().chain(&LATER_TEXTS) {
        assert!(report.contains(text), "`{text}` missing:\n{report}");
    }
    assert_eq!(last_line(&report), "GRADE: 4/10 (40.00%)", "{report}");
    let gradebook = std::fs::read_to_string(out_dir.join("gradebook.csv")).expect("gradebook");
    assert!(
        gradebook.contains(",graded,4,10,"),
        "the gradebook counts every check:\n{gradebook}"
    );
}

#[test]
fn an_unknown_audience_is_refused() {
    let out = grader()
        .args(["grade", ".", "--audience", "teacher"])
        .output()
        .expect("run the grader");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("write student, released or instructor"),
        "{stderr}"
    );
}
