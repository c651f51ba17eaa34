//! `grader batch --shard K/N` and `grader gradebook merge`: a class of 100 graded in 4 shards and
//! merged gives the gradebook one batch gives (byte for byte apart from the `seconds` column),
//! the same per-student reports and the same batch.json; merging refuses shards of another lab
//! or grader version and writes nothing; a missing shard or a shard given twice is reported by
//! student and shard. The class template for GitLab (`labs/ci/class-batch.gitlab-ci.yml`) is
//! valid against GitLab's CI schema.
//!
//! The batches here run a fake worker (`GRADER_BATCH_WORKER`, a small shell script that reports
//! a score read from the submission), so they need no root, no toolchain and little time; what
//! is tested is the slicing, the output layout and the merge, not grading itself.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use support::repo_root;

/// Batches of one test binary run one at a time: they share slot numbers, and the clean-up at
/// the end of a batch kills every process of its slots' users.
static ONE_BATCH_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_BATCH_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fake worker: answers `grader batch --worker SLOT --stage PREFIX ... -- DIR` with an
/// outcome line and a results.json, from the number in `DIR/score`; a missing directory is an
/// `error` row, as the real worker says.
const FAKE_WORKER: &str = r#"#!/bin/sh
stage=""
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --) dir="$2"; shift 2 ;;
    *) shift ;;
  esac
done
if [ ! -d "$dir" ]; then
  printf '{"score":0,"tests":[],"extra_data":{"batch_status":"error"}}\n' >"$stage.json"
  printf '{"status":"error","score":null,"max":null,"parts":[],"grader_version":"0.1.0","lab_digest":"fake","detail":"the submission directory %s does not exist"}\n' "$dir"
  exit 0
fi
score=$(cat "$dir/score")
printf '{"score":%s,"max_score":25,"tests":[],"extra_data":{"grader_version":"0.1.0","lab_digest":"fake"}}\n' "$score" >"$stage.json"
printf 'report of %s: %s\n' "$dir" "$score" >"$stage.txt"
printf '{"status":"graded","score":%s,"max":25,"parts":[{"id":"part1","score":%s,"max":10}],"grader_version":"0.1.0","lab_digest":"fake","detail":"GRADE: %s/25"}\n' "$score" "$score" "$score"
"#;

struct Class {
    dir: tempfile::TempDir,
    roster: PathBuf,
    worker: PathBuf,
}

/// 100 students in a roster that is neither sorted nor reversed; two of them never submitted.
fn class() -> Class {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let worker = dir.path().join("fake-worker.sh");
    std::fs::write(&worker, FAKE_WORKER).expect("write worker");
    std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut roster = String::from("student,directory\n");
    for i in 0..100u32 {
        let n = (i * 37 + 11) % 100;
        let student = format!("s{n:03}");
        let sub = dir.path().join("subs").join(&student);
        if n % 41 != 7 {
            std::fs::create_dir_all(&sub).expect("mkdir");
            std::fs::write(sub.join("score"), format!("{}", (n * 7) % 26)).expect("score");
        }
        roster.push_str(&format!("{student},subs/{student}\n"));
    }
    let path = dir.path().join("roster.csv");
    std::fs::write(&path, roster).expect("write roster");
    Class {
        dir,
        roster: path,
        worker,
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run grader")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn batch(class: &Class, out: &Path, shard: Option<&str>) -> Output {
    let mut cmd = support::grader();
    cmd.arg("batch")
        .arg("--roster")
        .arg(&class.roster)
        .arg("--out")
        .arg(out)
        .args(["--jobs", "8"])
        .env("GRADER_BATCH_WORKER", &class.worker);
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    run(&mut cmd)
}

fn merge(out: &Path, shards: &[PathBuf]) -> Output {
    run(support::grader()
        .args(["gradebook", "merge"])
        .arg(out)
        .args(shards))
}

/// The gradebook with the `seconds` column emptied: the only cells that may differ.
fn without_timings(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("gradebook");
    let records = grader::batch::gradebook::parse(&text);
    let seconds = records[0]
        .iter()
        .position(|h| h == "seconds")
        .expect("seconds column");
    let table = grader::batch::gradebook::Table {
        header: records[0].clone(),
        rows: records[1..]
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r[seconds].clear();
                r
            })
            .collect(),
    };
    table.render()
}

/// Every file below `dir/sub`, name -> bytes.
fn files(dir: &Path, sub: &str) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
        return BTreeMap::new();
    };
    entries
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect()
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("batch.json")).expect("batch.json"))
        .expect("batch.json is JSON")
}

#[test]
fn gradebook_four_shards_merged_equal_one_run() {
    let _one = serial();
    let class = class();
    let root = class.dir.path();
    let started = Instant::now();
    let one = batch(&class, &root.join("one"), None);
    let one_run = started.elapsed();
    assert_eq!(one.status.code(), Some(1), "two error rows: {}", text(&one));

    let started = Instant::now();
    let shards: Vec<PathBuf> = (1..=4).map(|k| root.join(format!("shard-{k}"))).collect();
    let mut sizes = Vec::new();
    for (k, dir) in shards.iter().enumerate() {
        let out = batch(&class, dir, Some(&format!("{}/4", k + 1)));
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
        let m = manifest(dir);
        assert_eq!(m["shard"]["index"], k + 1);
        assert_eq!(m["shard"]["count"], 4);
        assert_eq!(m["class"].as_array().expect("class").len(), 100);
        sizes.push(m["students"].as_array().expect("students").len());
    }
    assert_eq!(sizes, [25, 25, 25, 25]);
    // Round-robin over sorted ids: shard 1 has s000, s004, ...; shard 2 has s001, ...
    let first: Vec<String> = manifest(&shards[0])["students"]
        .as_array()
        .expect("students")
        .iter()
        .map(|s| s.as_str().expect("id").to_string())
        .collect();
    assert!(
        first
            .iter()
            .all(|s| s[1..].parse::<u32>().expect("n") % 4 == 0),
        "{first:?}"
    );

    let merged_dir = root.join("merged");
    // Given in another order than 1..4: the merged order is the class's, not the shards'.
    let mut given = shards.clone();
    given.reverse();
    let merged = merge(&merged_dir, &given);
    let sharded = started.elapsed();
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged));
    eprintln!(
        "one run of 100: {:.2} s; 4 shards + merge: {:.2} s",
        one_run.as_secs_f64(),
        sharded.as_secs_f64()
    );

    let one_dir = root.join("one");
    assert_eq!(
        without_timings(&merged_dir.join("gradebook.csv")),
        without_timings(&one_dir.join("gradebook.csv")),
        "the merged gradebook differs from one run's"
    );
    assert_eq!(manifest(&merged_dir), manifest(&one_dir), "batch.json");
    for kind in ["json", "reports", "junit"] {
        assert_eq!(files(&merged_dir, kind), files(&one_dir, kind), "{kind}/");
    }
    assert_eq!(files(&merged_dir, "json").len(), 100);
    assert!(
        merged_dir.join("report.html").is_file(),
        "the merge writes the class report: {}",
        text(&merged)
    );
}

#[test]
fn gradebook_merge_refuses_other_labs_and_versions_and_reports_gaps() {
    let _one = serial();
    let class = class();
    let root = class.dir.path();
    let shards: Vec<PathBuf> = (1..=3).map(|k| root.join(format!("shard-{k}"))).collect();
    for (k, dir) in shards.iter().enumerate() {
        let out = batch(&class, dir, Some(&format!("{}/3", k + 1)));
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    }

    // Shard 3 from another grader version, then from another lab file: refused, nothing written.
    let original = std::fs::read_to_string(shards[2].join("batch.json")).expect("manifest");
    for (field, value) in [
        ("grader_version", "9.9.9"),
        ("lab_hash", "0123456789abcdef"),
    ] {
        let mut m: serde_json::Value = serde_json::from_str(&original).expect("json");
        m[field] = value.into();
        std::fs::write(shards[2].join("batch.json"), m.to_string()).expect("write");
        let out_dir = root.join(format!("refused-{field}"));
        let out = merge(&out_dir, &shards);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(value) && stderr.contains("fix:"),
            "{stderr}"
        );
        assert!(!out_dir.exists(), "a refused merge writes nothing");
    }
    std::fs::write(shards[2].join("batch.json"), &original).expect("restore");

    // Not a shard output at all.
    let out = merge(&root.join("x"), &[root.join("subs")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("batch.json"));

    // Shard 3 missing and shard 1 given twice: merged anyway, both reported, exit 1.
    let out_dir = root.join("gaps");
    let out = merge(
        &out_dir,
        &[shards[0].clone(), shards[1].clone(), shards[0].clone()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let missing = stderr.lines().filter(|l| l.contains("missing:")).count();
    let twice = stderr
        .lines()
        .filter(|l| l.contains("graded twice:"))
        .count();
    let third = manifest(&shards[2])["students"]
        .as_array()
        .expect("ids")
        .len();
    let first = manifest(&shards[0])["students"]
        .as_array()
        .expect("ids")
        .len();
    assert_eq!(missing, third, "{stderr}");
    assert_eq!(twice, first, "{stderr}");
    assert!(stderr.contains("shard 3/3"), "{stderr}");
    let rows = grader::batch::gradebook::parse(
        &std::fs::read_to_string(out_dir.join("gradebook.csv")).expect("gradebook"),
    );
    assert_eq!(rows.len() - 1, 100 - third);
}

#[test]
fn gradebook_batch_refuses_a_bad_shard() {
    let _one = serial();
    let class = class();
    for bad in ["0/4", "5/4", "2", "x/y"] {
        let out = batch(&class, &class.dir.path().join("out"), Some(bad));
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("K/N"),
            "{}",
            text(&out)
        );
    }
}

/// One small real run: three copies of the sample C/Python submission (one broken, one never
/// submitted) graded in one batch and in 2 shards give the same gradebook after the merge.
#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn gradebook_real_shards_merged_equal_one_run() {
    let _one = serial();
    let class = tempfile::Builder::new()
        .prefix("ipc-lab-shards-")
        .tempdir()
        .expect("tempdir");
    let root = class.path();
    // The slots' users must be able to read the copies.
    std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let original = support::submissions().join("original");
    support::copy_tree(&original, &root.join("alice"));
    support::copy_tree(&original, &root.join("bob"));
    support::replace_in(
        &root.join("bob"),
        "listener.c",
        "return_code = 1;",
        "return_code = 0;",
    );
    std::fs::write(
        root.join("roster.csv"),
        "student,directory\nbob,bob\ncarol,carol-never-submitted\nalice,alice\n",
    )
    .expect("roster");
    let lab = repo_root().join("labs/ipc/original.toml");
    let grade = |out: &str, shard: Option<&str>, code: i32| {
        let mut cmd = support::grader();
        cmd.arg("batch")
            .arg("--lab")
            .arg(&lab)
            .arg("--roster")
            .arg(root.join("roster.csv"))
            .arg("--out")
            .arg(root.join(out))
            .args(["--jobs", "2"]);
        if let Some(shard) = shard {
            cmd.args(["--shard", shard]);
        }
        let out = run(&mut cmd);
        assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    };
    // Sorted ids alice, bob, carol: shard 1 has alice and carol (an error row), shard 2 bob.
    grade("one", None, 1);
    grade("s1", Some("1/2"), 1);
    grade("s2", Some("2/2"), 0);
    let merged = run(support::grader()
        .args(["gradebook", "merge", "--lab"])
        .arg(&lab)
        .arg(root.join("merged"))
        .arg(root.join("s1"))
        .arg(root.join("s2")));
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged));
    let gradebook = without_timings(&root.join("merged/gradebook.csv"));
    assert_eq!(gradebook, without_timings(&root.join("one/gradebook.csv")));
    assert!(gradebook.contains("\r\nalice,"), "{gradebook}");
    assert!(
        gradebook.contains(",graded,24,25,"),
        "bob's 24: {gradebook}"
    );
    assert!(
        root.join("merged/report.html").is_file(),
        "{}",
        text(&merged)
    );
    assert_eq!(
        files(&root.join("merged"), "json").len(),
        3,
        "every student's results.json"
    );
}

/// The class template is valid against GitLab's CI schema, checked the way
/// `docker/validate-ci-yaml.sh` checks the student template (check-jsonschema, pinned, with
/// GitLab's vendored schema); a deliberately broken copy must be refused, or the check proves
/// nothing. The validator is installed on first use into the same cache the script uses.
#[test]
fn gradebook_class_ci_template_matches_gitlab_schema() {
    let template = repo_root().join("labs/ci/class-batch.gitlab-ci.yml");
    let yaml = std::fs::read_to_string(&template).expect("template");
    assert!(yaml.contains("parallel: 4"), "parallel jobs");
    assert!(yaml.contains(r#"--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL""#));
    assert!(yaml.contains("grader gradebook merge"));

    let version = "0.39.0";
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME");
    let venv = cache.join(format!("ipc-lab/check-jsonschema-{version}"));
    let tool = venv.join("bin/check-jsonschema");
    if !tool.is_file() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        let installed = made
            && Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .arg(format!("check-jsonschema=={version}"))
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            installed,
            "cannot install check-jsonschema {version} into {}: this test needs python3-venv and the network once (or run docker/validate-ci-yaml.sh, which installs it there)",
            venv.display()
        );
    }
    let check = |file: &Path| {
        Command::new(&tool)
            .args([
                "--builtin-schema",
                "vendor.gitlab-ci",
                "--data-transform",
                "gitlab-ci",
                "--regex-variant",
                "nonunicode",
            ])
            .arg(file)
            .output()
            .expect("run check-jsonschema")
    };
    let good = check(&template);
    assert!(good.status.success(), "{}", text(&good));

    let scratch = tempfile::tempdir().expect("tempdir");
    let broken = scratch.path().join("broken.gitlab-ci.yml");
    std::fs::write(
        &broken,
        yaml.replace("  parallel: 4", "  parallel: many")
            .replace("  script:", "  scirpt:"),
    )
    .expect("write");
    let bad = check(&broken);
    assert!(
        !bad.status.success(),
        "a broken copy must be refused: {}",
        text(&bad)
    );
}
