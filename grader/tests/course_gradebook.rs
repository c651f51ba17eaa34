//! A course gradebook: `grader batch --lab ipc --lab shm` and `--course course.toml` grade the
//! class once per lab into `OUT/<lab>/` and write `OUT/course.csv` with a column per lab and the
//! weighted total. A fake worker (`GRADER_BATCH_WORKER`) reports the score it finds in
//! `<submission>/<lab>.score`, so what is tested is the plan and the arithmetic, quickly and
//! without root.

mod support;

use std::path::Path;
use std::process::Output;

/// Answers `grader batch --worker SLOT --stage PREFIX ... --lab LAB ... -- DIR` with the score in
/// `DIR/LAB.score` (the lab's id, or a file's name without `.toml`).
const FAKE_WORKER: &str = r#"#!/bin/sh
stage=""; dir=""; lab="ipc"
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --lab) lab=$(basename "$2" .toml); shift 2 ;;
    --) dir="$2"; shift 2 ;;
    *) shift ;;
  esac
done
if [ ! -f "$dir/$lab.score" ]; then
  printf '{"score":0,"tests":[],"extra_data":{"batch_status":"error"}}\n' >"$stage.json"
  printf '{"status":"error","score":null,"max":null,"parts":[],"grader_version":"0.1.0","lab_digest":"fake","detail":"no submission for %s"}\n' "$lab"
  exit 0
fi
score=$(cat "$dir/$lab.score")
printf '{"score":%s,"tests":[],"extra_data":{"grader_version":"0.1.0","lab_digest":"fake"}}\n' "$score" >"$stage.json"
printf '{"status":"graded","score":%s,"max":0,"parts":[],"grader_version":"0.1.0","lab_digest":"fake","detail":"GRADE: %s"}\n' "$score" "$score"
"#;

fn setup() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = dir.path().join("worker.sh");
    std::fs::write(&worker, FAKE_WORKER).expect("worker");
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // ipc is out of 25, shm out of its own maximum (read from the lab).
    for (student, ipc, shm) in [
        ("alice", Some("25"), Some("SHM")),
        ("bob", Some("12.5"), None),
    ] {
        let sub = dir.path().join("subs").join(student);
        std::fs::create_dir_all(&sub).expect("mkdir");
        if let Some(score) = ipc {
            std::fs::write(sub.join("ipc.score"), score).expect("score");
        }
        if let Some(score) = shm {
            std::fs::write(sub.join("shm.score"), score).expect("score");
        }
    }
    std::fs::write(
        dir.path().join("roster.csv"),
        "student,directory\nbob,subs/bob\nalice,subs/alice\n",
    )
    .expect("roster");
    dir
}

/// The maximum of the built-in lab `id`, from `grader labs`.
fn max_of(id: &str) -> f64 {
    let out = support::grader().arg("labs").output().expect("grader labs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(id)).then(|| words.next().and_then(|p| p.parse().ok()))?
        })
        .unwrap_or_else(|| panic!("no lab {id} in:\n{text}"))
}

fn course(dir: &Path, args: &[&str]) -> Output {
    support::grader()
        .arg("batch")
        .arg("--roster")
        .arg(dir.join("roster.csv"))
        .arg("--out")
        .arg(dir.join("out"))
        .args(args)
        .env("GRADER_BATCH_WORKER", dir.join("worker.sh"))
        .output()
        .expect("run grader batch")
}

fn report(out: &Output) -> String {
    format!(
        "{:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn course_gradebook_has_a_column_per_lab_and_the_weighted_total() {
    let dir = setup();
    let shm_max = max_of("shm");
    // alice gets half of shm's points.
    let half = shm_max / 2.0;
    std::fs::write(dir.path().join("subs/alice/shm.score"), format!("{half}")).expect("score");

    // Equal weights from repeated --lab; bob has no shm submission: an `error` row, exit 1.
    let out = course(dir.path(), &["--lab", "ipc", "--lab", "shm"]);
    assert_eq!(out.status.code(), Some(1), "{}", report(&out));
    assert!(dir.path().join("out/ipc/gradebook.csv").is_file());
    assert!(dir.path().join("out/shm/gradebook.csv").is_file());
    let csv = std::fs::read_to_string(dir.path().join("out/course.csv")).expect("course.csv");
    let half_text = report::model::format_points(half);
    assert_eq!(
        csv,
        format!("student,ipc,shm,total\r\nbob,12.5,,25.00\r\nalice,25,{half_text},75.00\r\n")
    );

    // Weights from a course file: ipc 1, shm 3.
    std::fs::write(
        dir.path().join("course.toml"),
        "[[labs]]\nlab = \"ipc\"\nweight = 1\n\n[[labs]]\nlab = \"shm\"\nweight = 3\n",
    )
    .expect("course file");
    let file = dir.path().join("course.toml");
    let out = course(dir.path(), &["--course", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", report(&out));
    let csv = std::fs::read_to_string(dir.path().join("out/course.csv")).expect("course.csv");
    // bob: (1 * 0.5 + 3 * 0) / 4 = 12.5 %; alice: (1 * 1 + 3 * 0.5) / 4 = 62.5 %.
    assert_eq!(
        csv,
        format!("student,ipc,shm,total\r\nbob,12.5,,12.50\r\nalice,25,{half_text},62.50\r\n")
    );
}

#[test]
fn course_gradebook_refuses_bad_plans_before_grading() {
    let dir = setup();
    for (args, says) in [
        (vec!["--lab", "ipc", "--lab", "nosuchlab"], "nosuchlab"),
        (vec!["--lab", "ipc", "--lab", "ipc"], "in the course twice"),
        (
            vec!["--lab", "ipc", "--lab", "shm", "--shard", "1/2"],
            "--shard",
        ),
    ] {
        let out = course(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", report(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(says) && stderr.contains("fix:"),
            "{args:?}: {stderr}"
        );
        assert!(!dir.path().join("out").exists(), "{args:?}: nothing graded");
    }
}
