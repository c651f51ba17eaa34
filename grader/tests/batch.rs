//! `grader batch` on real submissions of the C/Python edition: the gradebook has the right row
//! for each known submission, a missing directory is an `error` row while the rest is graded, a
//! regrade whose grader fails keeps the earlier good result, hostile submissions graded side by
//! side cannot touch each other, and no process of any slot's users is left afterwards.
//!
//! As root (CI) the slots run as their own users; the tests that need that say SKIPPED otherwise.
//! The batch tests take one lock: they share slot numbers, and "no process left" must not see
//! another test's batch still running.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use support::{replace_in, repo_root, submissions, variant};

static ONE_BATCH_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_BATCH_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn original_lab() -> PathBuf {
    repo_root().join("labs/ipc/original.toml")
}

fn original() -> PathBuf {
    submissions().join("original")
}

struct Batch {
    code: i32,
    stdout: String,
    stderr: String,
    rows: BTreeMap<String, BTreeMap<String, String>>,
}

impl Batch {
    fn row(&self, student: &str) -> &BTreeMap<String, String> {
        self.rows
            .get(student)
            .unwrap_or_else(|| panic!("no row for {student}:\n{}\n{}", self.stdout, self.stderr))
    }

    fn cell(&self, student: &str, column: &str) -> &str {
        self.row(student)
            .get(column)
            .unwrap_or_else(|| panic!("no column {column}"))
    }
}

/// Runs `grader batch --lab original.toml --out OUT EXTRA... DIRS...` and reads the gradebook.
fn batch(out: &Path, extra: &[&str], dirs: &[&Path], env: &[(&str, &str)]) -> Batch {
    let mut cmd = support::grader();
    cmd.arg("batch")
        .arg("--lab")
        .arg(original_lab())
        .arg("--out")
        .arg(out)
        .args(extra)
        .args(dirs);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run grader batch");
    let text = std::fs::read_to_string(out.join("gradebook.csv")).unwrap_or_default();
    Batch {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        rows: parse_gradebook(&text),
    }
}

/// The gradebook as student -> column -> cell (quoted fields and CRLF lines, as RFC 4180 says).
fn parse_gradebook(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let records = grader::batch::gradebook::parse(text);
    let Some((header, rows)) = records.split_first() else {
        return BTreeMap::new();
    };
    rows.iter()
        .map(|r| {
            let row: BTreeMap<String, String> =
                header.iter().cloned().zip(r.iter().cloned()).collect();
            (row["student"].clone(), row)
        })
        .collect()
}

/// A copy of the sample submission named `name` inside `parent`, with `edit` applied.
fn student(parent: &Path, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let dir = parent.join(name);
    support::copy_tree(&original(), &dir);
    edit(&dir);
    dir
}

fn class_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ipc-lab-batch-class-")
        .tempdir()
        .expect("tempdir");
    // The slots' users must be able to read the copies.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    dir
}

/// Uids of the users of slots 1..=jobs (they exist once a batch ran as root).
fn slot_uids(jobs: u32) -> Vec<u32> {
    (1..=jobs)
        .flat_map(|n| [format!("labowner-{n}"), format!("garfield-{n}")])
        .filter_map(|name| uid_of(&name))
        .collect()
}

fn uid_of(name: &str) -> Option<u32> {
    let out = Command::new("id").arg("-u").arg(name).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Live processes whose real uid is one of `uids`.
fn processes_of(uids: &[u32]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok());
        if uid.is_some_and(|u| uids.contains(&u)) {
            found.push(format!(
                "pid {name}: {}",
                status.lines().next().unwrap_or("")
            ));
        }
    }
    found
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn batch_gradebook_has_the_right_row_for_each_submission() {
    let _one = serial();
    let class = class_dir();
    let alice = student(class.path(), "alice", |_| {});
    let bob = student(class.path(), "bob", |d| {
        replace_in(d, "listener.c", "return_code = 1;", "return_code = 0;");
    });
    let carol = class.path().join("carol-never-submitted");
    let out = class.path().join("out");
    let b = batch(&out, &["--jobs", "2"], &[&alice, &bob, &carol], &[]);

    assert_eq!(
        b.code, 1,
        "an error row makes the exit status 1:\n{}",
        b.stderr
    );
    assert_eq!(b.cell("alice", "status"), "graded");
    assert_eq!(b.cell("alice", "score"), "25");
    assert_eq!(b.cell("alice", "max"), "25");
    for (part, points) in [("submission", "5"), ("part1", "10"), ("part2", "10")] {
        assert_eq!(b.cell("alice", part), points, "{part}");
    }
    assert_eq!(b.cell("bob", "status"), "graded");
    assert_eq!(b.cell("bob", "score"), "24");
    assert_eq!(b.cell("bob", "part1"), "9");
    let carol_row = b.row("carol-never-submitted");
    assert_eq!(carol_row["status"], "error");
    assert_eq!(carol_row["score"], "");
    assert!(
        carol_row["detail"].contains("does not exist"),
        "{}",
        carol_row["detail"]
    );
    for name in ["alice", "bob", "carol-never-submitted"] {
        assert_eq!(b.cell(name, "grader_version"), env!("CARGO_PKG_VERSION"));
        assert_eq!(b.cell(name, "lab_hash").len(), 16, "lab hash of {name}");
    }

    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("json/alice.json")).expect("alice's results.json"),
    )
    .expect("valid JSON");
    assert_eq!(json["score"].as_f64(), Some(25.0));
    let owner = json["extra_data"]["mode"]["owner_user"]
        .as_str()
        .expect("owner user");
    assert!(owner.starts_with("labowner-"), "ran in a slot: {owner}");
    let xml = std::fs::read_to_string(out.join("junit/bob.xml")).expect("bob's JUnit");
    assert!(xml.contains("<failure"), "{xml}");
    let report = std::fs::read_to_string(out.join("reports/alice.txt")).expect("report");
    assert_eq!(report.lines().last(), Some("GRADE: 25/25 (100.00%)"));
    let carol_json = std::fs::read_to_string(out.join("json/carol-never-submitted.json"))
        .expect("an error row still gets a results.json");
    assert!(carol_json.contains("does not exist"), "{carol_json}");
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn batch_regrade_keeps_the_good_result_when_the_grader_fails() {
    let _one = serial();
    let class = class_dir();
    let alice = student(class.path(), "alice", |_| {});
    let out = class.path().join("out");
    let first = batch(&out, &[], &[&alice], &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.cell("alice", "score"), "25");
    let good = std::fs::read(out.join("json/alice.json")).expect("good results.json");

    // A worker that exits at once without a word: the grader itself is broken.
    let crashed = batch(
        &out,
        &[],
        &[&alice],
        &[("GRADER_BATCH_WORKER", "/bin/false")],
    );
    assert_eq!(crashed.code, 2, "{}", crashed.stderr);
    assert_eq!(crashed.cell("alice", "status"), "infra");
    assert_eq!(
        crashed.cell("alice", "score"),
        "25",
        "the earlier score is kept"
    );
    assert_eq!(crashed.cell("alice", "part2"), "10");
    let detail = crashed.cell("alice", "detail");
    assert!(detail.contains("without a result"), "{detail}");
    assert!(detail.contains("kept"), "{detail}");
    assert_eq!(
        std::fs::read(out.join("json/alice.json")).expect("kept"),
        good,
        "the good results.json must not be replaced"
    );

    // A worker that hangs: stopped at the batch's deadline.
    let hang = class.path().join("hang.sh");
    std::fs::write(&hang, "#!/bin/sh\nexec sleep 600\n").expect("write");
    std::fs::set_permissions(&hang, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let hung = batch(
        &out,
        &["--timeout", "1s"],
        &[&alice],
        &[("GRADER_BATCH_WORKER", hang.to_str().expect("utf-8 path"))],
    );
    assert_eq!(hung.code, 2, "{}", hung.stderr);
    assert_eq!(hung.cell("alice", "status"), "infra");
    assert!(
        hung.cell("alice", "detail").contains("longer than"),
        "{}",
        hung.cell("alice", "detail")
    );
    assert_eq!(
        std::fs::read(out.join("json/alice.json")).expect("kept"),
        good
    );

    // And a later good run replaces it as usual.
    let again = batch(&out, &[], &[&alice], &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.cell("alice", "status"), "graded");
}

/// The build check's line in a student's results.json.
fn build_output(out: &Path, student: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join(format!("json/{student}.json"))).expect("results.json"),
    )
    .expect("valid JSON");
    json["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .find(|t| t["extra_data"]["id"] == "build")
        .and_then(|t| t["output"].as_str())
        .expect("a build check")
        .to_string()
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn batch_regrade_reuses_the_build_of_unchanged_files_only() {
    let _one = serial();
    let class = class_dir();
    // Bytes no other test grades, so the first build below is this test's own.
    let nonce = class
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let alice = student(class.path(), "alice", |d| {
        let source = d.join("listener.c");
        let mut text = std::fs::read_to_string(&source).expect("listener.c");
        text.push_str(&format!("/* {nonce} */\n"));
        std::fs::write(&source, text).expect("write");
    });
    let out = class.path().join("out");
    let first = batch(&out, &[], &[&alice], &[]);
    assert_eq!(first.cell("alice", "score"), "25", "{}", first.stderr);
    assert_eq!(build_output(&out, "alice"), "`make -B` succeeded");

    let again = batch(&out, &[], &[&alice], &[]);
    assert_eq!(again.cell("alice", "score"), "25", "{}", again.stderr);
    assert_eq!(
        build_output(&out, "alice"),
        "`make -B` succeeded (an earlier build of exactly these files was reused)"
    );

    // Changed bytes are built anew: the listener that runs is the one of the new source.
    replace_in(&alice, "listener.c", "return_code = 1;", "return_code = 0;");
    let changed = batch(&out, &[], &[&alice], &[]);
    assert_eq!(build_output(&out, "alice"), "`make -B` succeeded");
    assert_eq!(changed.cell("alice", "score"), "24", "{}", changed.stderr);
    assert_eq!(changed.cell("alice", "part1"), "9");
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn batch_hostile_neighbours_change_nothing_and_leave_no_process() {
    let _one = serial();
    let class = class_dir();
    const STRIP: &str = "name = sys.stdin.read().strip()";
    // Tries to SIGKILL every process of another user it can see (other slots' students).
    let killer = student(class.path(), "killer", |d| {
        replace_in(
            d,
            "cat.py",
            STRIP,
            &format!(
                "import os, signal\nfor p in os.listdir('/proc'):\n    try:\n        if p.isdigit() and os.stat('/proc/' + p).st_uid != os.getuid():\n            os.kill(int(p), signal.SIGKILL)\n    except OSError:\n        pass\n{STRIP}"
            ),
        );
    });
    // Tries to replace the treasure in every litterbox it can reach but its own.
    let vandal = student(class.path(), "vandal", |d| {
        replace_in(
            d,
            "cat.py",
            STRIP,
            &format!(
                "import glob, os\nmine = os.path.realpath('.')\nfor t in glob.glob('/tmp/*/run/litterbox/treasure.txt') + glob.glob('/tmp/*/*/*/run/litterbox/treasure.txt') + [f'/proc/{{p}}/cwd/litterbox/treasure.txt' for p in os.listdir('/proc') if p.isdigit()]:\n    try:\n        if not os.path.realpath(t).startswith(mine + '/'):\n            os.unlink(t)\n            open(t, 'w').write('PWNED')\n    except OSError:\n        pass\n{STRIP}"
            ),
        );
    });
    // Leaves children behind in sessions of their own.
    let linger = student(class.path(), "linger", |d| {
        replace_in(
            d,
            "cat.py",
            STRIP,
            &format!(
                "import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(600)\n        os._exit(0)\n{STRIP}"
            ),
        );
    });
    // A listener that plants a daemon before it waits.
    let daemon = student(class.path(), "daemon", |d| {
        replace_in(
            d,
            "listener.c",
            "    pause();",
            "    if (fork() == 0) { setsid(); if (fork() == 0) { sleep(600); } _exit(0); }\n    pause();",
        );
    });
    let good: Vec<PathBuf> = (1..=2)
        .map(|n| student(class.path(), &format!("good-{n}"), |_| {}))
        .collect();
    let out = class.path().join("out");
    let dirs: Vec<&Path> = vec![&killer, &good[0], &vandal, &linger, &good[1], &daemon];
    let b = batch(&out, &["--jobs", "3"], &dirs, &[]);
    assert_eq!(b.code, 0, "{}\n{}", b.stdout, b.stderr);
    // The neighbours change nothing of the others' grades. The two that leave processes behind
    // lose the checks whose runs left them, and their reports say why. (How many is up to them:
    // daemon forks its daemon after installing its handlers, so a signal can come first.)
    for name in ["good-1", "good-2", "killer", "vandal", "linger", "daemon"] {
        assert_eq!(b.cell(name, "status"), "graded", "{name}");
        let report =
            std::fs::read_to_string(out.join(format!("reports/{name}.txt"))).unwrap_or_default();
        let score: f64 = b.cell(name, "score").parse().expect("a score");
        if ["linger", "daemon"].contains(&name) {
            assert!(score < 25.0, "{name}: {report}");
            assert!(
                report.contains("must not leave processes behind"),
                "{name}: {report}"
            );
        } else {
            assert_eq!(score, 25.0, "{name}: {report}");
        }
    }
    let left = processes_of(&slot_uids(3));
    assert!(left.is_empty(), "processes left: {left:?}");
}

#[test]
fn batch_refuses_a_roster_with_a_repeated_student_before_grading() {
    let _one = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, "student,directory\nalice,a\nAlice,b\n").expect("write");
    let out = dir.path().join("out");
    let output = support::grader()
        .arg("batch")
        .arg("--roster")
        .arg(&roster)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run grader batch");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("alice") && stderr.contains("Alice"),
        "{stderr}"
    );
    assert!(!out.join("gradebook.csv").exists());
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn batch_reads_a_roster_and_names_rows_after_it() {
    let _one = serial();
    let class = class_dir();
    let sub = variant(&original(), |_| {});
    let roster = class.path().join("roster.csv");
    std::fs::write(&roster, format!("\"Doe, Jane\",{}\n", sub.path().display())).expect("write");
    let out = class.path().join("out");
    let mut cmd = support::grader();
    cmd.arg("batch")
        .arg("--lab")
        .arg(original_lab())
        .arg("--roster")
        .arg(&roster)
        .arg("--out")
        .arg(&out);
    let output = cmd.output().expect("run");
    let rows = parse_gradebook(&std::fs::read_to_string(out.join("gradebook.csv")).expect("csv"));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(rows["Doe, Jane"]["score"], "25");
    assert!(out.join("json/Doe__Jane.json").is_file());
}

/// A class spread over directories of its own (a roster of paths, not one class directory), kept
/// outside /tmp (every pod gets a /tmp of its own, which would hide it anyway), with the batch's
/// output beside it. Removed when dropped.
struct SpreadClass(PathBuf);

impl SpreadClass {
    fn new() -> SpreadClass {
        let root = PathBuf::from(format!(
            "/var/lib/ipc-lab-test-class-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("class root");
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        SpreadClass(root)
    }

    /// A student's copy at `<root>/<group>/<name>`, readable by everyone, as a course's
    /// checkout often is.
    fn student(&self, group: &str, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
        let parent = self.0.join(group);
        std::fs::create_dir_all(&parent).expect("group dir");
        std::fs::set_permissions(&parent, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        student(&parent, name, edit)
    }
}

impl Drop for SpreadClass {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn batch_classmates_cannot_read_each_other_or_plant_files_for_each_other() {
    let _one = serial();
    let class = SpreadClass::new();
    let marker = format!("VICTIM-SOURCE-{}", std::process::id());
    let victim = class.student("section-a", "victim", |d| {
        std::fs::write(d.join("notes.txt"), format!("{marker}\n")).expect("notes");
    });
    let out = class.0.join("out");
    const STRIP: &str = "name = sys.stdin.read().strip()";
    // Knows the victim's path and the batch's output directory (the worst case: a guessable
    // layout), reads what it can there, and plants a cargo configuration and a marker file in
    // every directory above its own, above the victim's and in the output directory.
    let snoop_code = format!(
        r#"import os
found = []
for path in [{victim:?} + '/notes.txt', {victim:?} + '/cat.py', {out:?} + '/gradebook.csv']:
    try:
        found.append(open(path).read()[:200])
    except OSError:
        pass
for top in [os.path.realpath('.'), {victim:?}, {out:?}, {out:?} + '/reports']:
    d = top
    while d != '/':
        for name in ['.cargo/config.toml', 'planted-by-snoop']:
            try:
                os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
                open(os.path.join(d, name), 'w').write('[build]\nrustc-wrapper = "/bin/false"\n')
            except OSError:
                pass
        d = os.path.dirname(d)
print('SNOOP-RAN', repr(found))
{STRIP}"#,
        victim = victim.display().to_string(),
        out = out.display().to_string(),
    );
    let snoop = class.student("section-b", "snoop", |d| {
        replace_in(d, "cat.py", STRIP, &snoop_code);
    });
    // Graded after the snoop in the same slot, so that anything it planted would be in the way.
    let later = class.student("section-c", "later", |_| {});
    let dirs: Vec<&Path> = vec![&victim, &snoop, &later];
    let b = batch(&out, &["--jobs", "1"], &dirs, &[]);
    assert_eq!(b.code, 0, "{}\n{}", b.stdout, b.stderr);
    let report = std::fs::read_to_string(out.join("reports/snoop.txt")).unwrap_or_default();
    // The attack ran (its line is in its own report), and found nothing.
    assert!(
        report.contains("SNOOP-RAN"),
        "the attack did not run:\n{report}"
    );
    for file in std::fs::read_dir(out.join("reports"))
        .expect("reports")
        .flatten()
    {
        let name = file.file_name().to_string_lossy().into_owned();
        if name.starts_with("snoop") {
            let text = std::fs::read_to_string(file.path()).unwrap_or_default();
            assert!(
                !text.contains(&marker),
                "{name} holds the victim's notes:\n{text}"
            );
            assert!(
                !text.contains("Meow") || !text.contains("SNOOP-RAN ['"),
                "{name}: the snoop read a file it must not see:\n{text}"
            );
        }
    }
    assert!(
        report.contains("SNOOP-RAN []"),
        "the snoop read something:\n{report}"
    );
    // Nothing was planted anywhere it aimed at.
    let mut planted = Vec::new();
    for top in [&victim, &out, &class.0] {
        let mut d = top.as_path();
        loop {
            for name in [".cargo/config.toml", "planted-by-snoop"] {
                if d.join(name).exists() && d.join(name).metadata().is_ok_and(|m| m.len() > 0) {
                    let text = std::fs::read_to_string(d.join(name)).unwrap_or_default();
                    if text.contains("rustc-wrapper = \"/bin/false\"") {
                        planted.push(d.join(name));
                    }
                }
            }
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
    }
    assert!(planted.is_empty(), "planted: {planted:?}");
    for name in ["victim", "later", "snoop"] {
        assert_eq!(b.cell(name, "status"), "graded", "{name}");
    }
    let victim_report = std::fs::read_to_string(out.join("reports/victim.txt")).unwrap_or_default();
    assert_eq!(b.cell("victim", "score"), "25", "{victim_report}");
    assert_eq!(b.cell("later", "score"), "25", "{}", b.stdout);
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn batch_grades_identical_submissions_side_by_side() {
    // Several students hand in the same bytes (the starter unchanged, copied work): their build
    // cache entry is one key, but two slots must never build into it at the same time.
    let _one = serial();
    let class = class_dir();
    let twins: Vec<PathBuf> = (1..=6)
        .map(|n| student(class.path(), &format!("twin-{n}"), |_| {}))
        .collect();
    let out = class.path().join("out");
    let dirs: Vec<&Path> = twins.iter().map(PathBuf::as_path).collect();
    let b = batch(&out, &["--jobs", "3"], &dirs, &[]);
    for n in 1..=6 {
        let name = format!("twin-{n}");
        let log = std::fs::read_to_string(out.join(format!("logs/{name}.log"))).unwrap_or_default();
        assert_eq!(
            b.cell(&name, "status"),
            "graded",
            "{name}: {log}\n{}",
            b.stdout
        );
        assert_eq!(b.cell(&name, "score"), "25", "{name}: {log}");
    }
    assert_eq!(b.code, 0, "{}\n{}", b.stdout, b.stderr);
}
