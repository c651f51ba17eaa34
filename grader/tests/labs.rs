//! The labs built on the scenario kind, graded for real by the grader binary: each reference
//! solution scores full marks, each starter scores low with hints that name real sections of
//! its handout, and each broken variant of the reference (a patch in
//! `labs/<lab>/tools/tests/variants/`) loses exactly the checks its `variants.toml` lists.
//!
//! As root (CI) every check runs as the lab's own users; without root the tests that need them
//! are ignored by the test runner itself.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde::Deserialize;
use support::{grade, repo_root};

fn lab_dir(lab: &str) -> PathBuf {
    repo_root().join("labs").join(lab)
}

fn lab_file(lab: &str) -> PathBuf {
    lab_dir(lab).join("lab.toml")
}

/// Every heading of a lab's README.md and handout/*.md.
fn headings(lab: &str) -> BTreeSet<String> {
    let mut files = vec![lab_dir(lab).join("README.md")];
    if let Ok(entries) = std::fs::read_dir(lab_dir(lab).join("handout")) {
        files.extend(entries.flatten().map(|e| e.path()));
    }
    let mut found = BTreeSet::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let mut fenced = false;
        for line in text.lines() {
            if line.starts_with("```") {
                fenced = !fenced;
            } else if !fenced && line.starts_with('#') {
                found.insert(line.trim_start_matches('#').trim().to_string());
            }
        }
    }
    found
}

fn max_points(graded: &support::Graded) -> f64 {
    graded.json["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| t["max_score"].as_f64().expect("max"))
        .sum()
}

fn reference_gets_full_marks(lab: &'static str) {
    let graded = graded(lab, REFERENCE);
    assert_eq!(
        graded.score(),
        max_points(graded),
        "the {lab} reference must get full marks:\n{}",
        graded.stdout
    );
    assert_eq!(graded.code, 0, "{}", graded.stdout);
    // What exit status 0 means: every check with points passed, none was skipped
    // (information-only checks are counted apart).
    let not_passed: Vec<&str> = graded.json["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .filter(|t| t["max_score"].as_f64() > Some(0.0) && t["extra_data"]["outcome"] != "passed")
        .filter_map(|t| t["extra_data"]["id"].as_str())
        .collect();
    assert!(
        not_passed.is_empty(),
        "{lab}: the reference does not pass {not_passed:?}:\n{}",
        graded.stdout
    );
}

fn starter_grades_low_with_real_hints(lab: &'static str) {
    let graded = graded(lab, STARTER);
    let max = max_points(graded);
    assert!(
        graded.score() <= max * 0.4,
        "the {lab} starter scores {} of {max}, which is not low:\n{}",
        graded.score(),
        graded.stdout
    );
    let sections = headings(lab);
    for id in graded.lost() {
        if graded.outcome(&id) != "failed" {
            continue;
        }
        let output = graded.output(&id);
        let named = support::handout::references(&output);
        assert!(
            !named.is_empty(),
            "{lab}: `{id}` fails with no handout hint:\n{output}"
        );
        for section in named {
            assert!(
                sections.contains(&section),
                "{lab}: `{id}`'s hint names `{section}`, which is no heading of its handout"
            );
        }
    }
}

/// A lab's broken variants. The labs keep them in one of four shapes, all read here: a patch
/// (`tools/tests/variants/<name>.patch`), one text replaced in one file (`file`, `find`,
/// `replace`), one file replaced by another (`replaces`, `file`), or a list of such edits
/// (`[[variant.edit]]`, each a `find`/`replace` in `file` or a new file `create`).
#[derive(Debug, Deserialize)]
struct Variants {
    #[serde(alias = "variant")]
    variants: Vec<Variant>,
}

#[derive(Debug, Deserialize)]
struct Variant {
    #[serde(alias = "id")]
    name: String,
    section: String,
    loses: Vec<String>,
    file: Option<String>,
    find: Option<String>,
    replace: Option<String>,
    replaces: Option<String>,
    #[serde(default)]
    edit: Vec<Edit>,
    #[serde(flatten)]
    _rest: toml::Table,
}

#[derive(Debug, Deserialize)]
struct Edit {
    file: String,
    find: Option<String>,
    replace: Option<String>,
    create: Option<String>,
}

/// Replaces the one occurrence of `find` in `file` of `dir`.
fn replace_once(lab: &str, variant: &str, dir: &Path, file: &str, find: &str, replace: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(
        text.matches(find).count(),
        1,
        "{lab}: variant {variant}: `find` must occur once in {file}"
    );
    std::fs::write(&path, text.replacen(find, replace, 1)).expect("write");
}

/// Where a lab keeps its variants.
fn variants_file(lab: &str) -> PathBuf {
    [
        "variants.toml",
        "tools/tests/variants.toml",
        "tools/tests/variants/variants.toml",
    ]
    .iter()
    .map(|p| lab_dir(lab).join(p))
    .find(|p| p.is_file())
    .unwrap_or_else(|| panic!("{lab} has no variants.toml"))
}

/// The reference with one variant applied, made at `dir`.
fn patched(lab: &str, v: &Variant, from: &Path, dir: &Path) {
    support::copy_tree(&lab_dir(lab).join("reference"), dir);
    for e in &v.edit {
        match (&e.find, &e.replace, &e.create) {
            (Some(find), Some(replace), None) => {
                replace_once(lab, &v.name, dir, &e.file, find, replace);
            }
            (None, None, Some(text)) => {
                let path = dir.join(&e.file);
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).expect("mkdir");
                }
                std::fs::write(&path, text).expect("create");
            }
            _ => panic!(
                "{lab}: variant {}: an edit has find+replace or create",
                v.name
            ),
        }
    }
    match (&v.replaces, &v.file, &v.find, &v.replace) {
        _ if !v.edit.is_empty() => {}
        (Some(target), Some(with), _, _) => {
            let with = from.parent().expect("dir").join(with);
            std::fs::copy(&with, dir.join(target)).expect("replace the file");
        }
        (None, Some(file), Some(find), Some(replace)) => {
            replace_once(lab, &v.name, dir, file, find, replace);
        }
        _ => {
            let patch = from
                .parent()
                .expect("dir")
                .join(format!("{}.patch", v.name));
            let status = Command::new("patch")
                .args(["-s", "-p1", "-d"])
                .arg(dir)
                .arg("-i")
                .arg(&patch)
                .status()
                .expect("run patch");
            assert!(
                status.success(),
                "{lab}: the patch {} does not apply",
                v.name
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir.join("target"));
}

/// A lab's variants file and what it lists.
fn variants(lab: &str) -> (PathBuf, Variants) {
    let from = variants_file(lab);
    let text = std::fs::read_to_string(&from).expect("read variants.toml");
    (from, toml::from_str(&text).expect("valid variants.toml"))
}

fn variants_lose_exactly_their_checks(lab: &'static str) {
    let (_, list) = variants(lab);
    let sections = headings(lab);
    let mut wrong = Vec::new();
    for v in &list.variants {
        assert!(
            sections.contains(&v.section),
            "{lab}: variant {} names `{}`, which is no heading of its handout",
            v.name,
            v.section
        );
        let graded = graded(lab, &format!("{VARIANT}{}", v.name));
        // `lost()` counts checks with points; an information-only check a variant also fails
        // (deputy's PID reuse) is listed in `loses` for the record.
        let mut want: Vec<String> = v
            .loses
            .iter()
            .filter(|id| graded.check(id)["max_score"].as_f64() > Some(0.0))
            .cloned()
            .collect();
        want.sort();
        if graded.lost() != want {
            wrong.push(format!(
                "{}: lost {:?}, expected {:?}\n{}",
                v.name,
                graded.lost(),
                want,
                graded.stdout
            ));
            continue;
        }
        for id in &want {
            let output = graded.output(id);
            if !output.contains(&format!("(handout: {}", v.section)) {
                wrong.push(format!(
                    "{}: `{id}` fails without naming {}:\n{output}",
                    v.name, v.section
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n\n"));
}

const REFERENCE: &str = "reference";
const STARTER: &str = "starter";
/// The prefix of a variant's id in its lab's batch.
const VARIANT: &str = "variant-";

/// A lab's reference (by `grader grade`), then its starter and broken variants together by one
/// `grader batch` (in parallel slots; the reference's sealed build seeds every variant's), each
/// as it would be for a student. The three tests of a lab read these grades: nothing is graded
/// twice.
fn graded(lab: &'static str, id: &str) -> &'static support::Graded {
    type Class = BTreeMap<String, support::Graded>;
    static BATCHES: Mutex<BTreeMap<&'static str, &'static Class>> = Mutex::new(BTreeMap::new());
    // One batch at a time: each already fills every slot.
    let mut batches = BATCHES.lock().unwrap_or_else(|e| e.into_inner());
    let class: &'static Class = batches
        .entry(lab)
        .or_insert_with(|| Box::leak(Box::new(batch(lab))));
    class
        .get(id)
        .unwrap_or_else(|| panic!("{lab}: no row `{id}` in the batch"))
}

fn batch(lab: &str) -> BTreeMap<String, support::Graded> {
    let (from, list) = variants(lab);
    let class = tempfile::Builder::new()
        .prefix("ipc-lab-class-")
        .tempdir()
        .expect("tempdir");
    // The reference alone first: its sealed build is every variant's seed (`[build] seed`), and a
    // seed is lent only while no grade holds its entry, so it must not be graded beside them.
    let reference = grade(&lab_dir(lab).join(REFERENCE), Some(&lab_file(lab)));
    let mut dirs = vec![lab_dir(lab).join(STARTER)];
    for v in &list.variants {
        let dir = class.path().join(format!("{VARIANT}{}", v.name));
        patched(lab, v, &from, &dir);
        dirs.push(dir);
    }
    let out = class.path().join("out");
    let run = support::grader()
        .arg("batch")
        .arg("--lab")
        .arg(lab_file(lab))
        .arg("--out")
        .arg(&out)
        .args(&dirs)
        .output()
        .expect("run grader batch");
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{lab}: the batch did not grade every row:\n{}\n{stderr}",
        String::from_utf8_lossy(&run.stdout)
    );
    let mut class: BTreeMap<String, support::Graded> = dirs
        .iter()
        .map(|dir| {
            let id = dir
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let json = std::fs::read_to_string(out.join(format!("json/{id}.json")))
                .unwrap_or_else(|e| panic!("{lab}: no results.json for {id} ({e}):\n{stderr}"));
            // A batch has no exit status per row; the report is what the student reads.
            let graded = support::Graded {
                code: 0,
                stdout: std::fs::read_to_string(out.join(format!("reports/{id}.txt")))
                    .unwrap_or_default(),
                stderr: String::new(),
                json: serde_json::from_str(&json).expect("valid JSON"),
            };
            (id, graded)
        })
        .collect();
    class.insert(REFERENCE.into(), reference);
    class
}

/// The cache entry a grade of `dir` under `lab` builds in (see `engine::build_cache`).
fn cache_entry(lab: &str, dir: &Path) -> PathBuf {
    let kinds = grader::catalog::registry().kinds().clone();
    let lab = lab::Lab::load(&lab_file(lab), &kinds).expect("the lab loads");
    let key = engine::build_cache::content_key(&lab.name, &lab.digest, dir).expect("content key");
    std::env::temp_dir().join("ipc-lab-test-cache").join(key)
}

/// The compiled libraries of one registry crate in an entry: name -> modification time.
fn rlibs(entry: &Path, krate: &str) -> Vec<(String, std::time::SystemTime)> {
    let deps = entry.join("target/release/deps");
    let mut found: Vec<(String, std::time::SystemTime)> = std::fs::read_dir(&deps)
        .unwrap_or_else(|e| panic!("{}: {e}", deps.display()))
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with(&format!("lib{krate}-")) && name.ends_with(".rlib")).then(|| {
                (
                    name,
                    e.metadata().and_then(|m| m.modified()).expect("mtime"),
                )
            })
        })
        .collect();
    found.sort();
    found
}

/// A copy of the shm reference whose server ends with the comment `note`: new bytes (a cache entry
/// of its own), the same program.
fn edited_shm_reference(note: &str) -> tempfile::TempDir {
    support::variant(&lab_dir("shm").join("reference"), |dir: &Path| {
        let server = dir.join("src/bin/server.rs");
        let text = std::fs::read_to_string(&server).expect("read");
        std::fs::write(&server, format!("{text}\n// {note}\n")).expect("write");
        let _ = std::fs::remove_dir_all(dir.join("target"));
    })
}

/// A new submission of a lab with a seed starts from the reference's compiled crate set: its
/// build leaves the dependencies' libraries exactly as the reference's build made them (same
/// files, same times: copied, not compiled again) and compiles only its own crate.
#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root: the seed is a sealed (root-owned) build"
)]
fn a_new_submission_builds_only_its_own_crate_from_the_seed() {
    let reference = lab_dir("shm").join("reference");
    let graded = grade(&reference, Some(&lab_file("shm")));
    assert_eq!(graded.code, 0, "{}", graded.stdout);
    // A fresh comment each run: new bytes, so a new cache entry.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_nanos();
    let dir = edited_shm_reference(&format!("seed test {nonce}"));
    let graded = grade(dir.path(), Some(&lab_file("shm")));
    assert_eq!(graded.code, 0, "{}", graded.stdout);
    let (seed, entry) = (
        cache_entry("shm", &reference),
        cache_entry("shm", dir.path()),
    );
    assert_ne!(seed, entry);
    let want = rlibs(&seed, "rustix");
    assert!(
        !want.is_empty(),
        "the reference's build has no rustix library"
    );
    assert_eq!(
        rlibs(&entry, "rustix"),
        want,
        "the new submission's rustix is not the seed's (compiled again?)"
    );
    assert!(entry.join("target/release/server").is_file());
}

/// The seed never hands out the reference's own programs: a submission that builds no `server`
/// has none, and the checks that run it fail.
#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root: the seed is a sealed (root-owned) build"
)]
fn a_submission_that_builds_no_server_does_not_get_the_references() {
    let reference = lab_dir("shm").join("reference");
    let _ = grade(&reference, Some(&lab_file("shm")));
    let dir = support::variant(&reference, |dir: &Path| {
        support::replace_in(dir, "Cargo.toml", "name = \"server\"\n", "name = \"srv\"\n");
        let _ = std::fs::remove_dir_all(dir.join("target"));
    });
    let graded = grade(dir.path(), Some(&lab_file("shm")));
    // The build check looks for the lab's programs after the build: none came from the seed.
    assert_eq!(graded.outcome("build"), "failed", "{}", graded.stdout);
    assert!(
        graded
            .output("build")
            .contains("did not produce target/release/server"),
        "{}",
        graded.output("build")
    );
    let entry = cache_entry("shm", dir.path());
    assert!(
        entry.join("target/release/srv").is_file(),
        "the renamed program was built"
    );
    assert!(
        !entry.join("target/release/server").exists()
            && !std::fs::read_dir(entry.join("target/release/deps"))
                .expect("deps")
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("server-")),
        "the reference's server came from the seed"
    );
    assert!(
        graded.score() < max_points(&graded) / 2.0,
        "without its server the submission scores {}:\n{}",
        graded.score(),
        graded.stdout
    );
}

/// A cache keeps only its most recently used entries (`GRADER_CACHE_KEEP`), but always the
/// lab's seed: with room for one, the second new submission's grade removes the first one's
/// entry and keeps its own.
#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root: cargo builds in sealed cache entries"
)]
fn the_cache_keeps_the_newest_entries_and_the_seed() {
    let cache = tempfile::Builder::new()
        .prefix("ipc-lab-evict-")
        .tempdir()
        .expect("tempdir");
    let reference = lab_dir("shm").join("reference");
    // The seed comes from the suite's cache (graded there first), copied as it is (root's, with
    // its times): only the two edits build here, from it.
    let graded = grade(&reference, Some(&lab_file("shm")));
    assert_eq!(graded.code, 0, "{}", graded.stdout);
    let seed = cache_entry("shm", &reference);
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&seed)
        .arg(cache.path())
        .status()
        .expect("run cp");
    assert!(copied.success(), "copying the seed {}", seed.display());
    let (first, second) = (
        edited_shm_reference("version 1"),
        edited_shm_reference("version 2"),
    );
    let entries = |cache: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(cache)
            .expect("cache")
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let key_of = |dir: &Path| {
        cache_entry("shm", dir)
            .file_name()
            .expect("key")
            .to_string_lossy()
            .into_owned()
    };
    for dir in [first.path(), second.path()] {
        let out = support::grader()
            .env("GRADER_CACHE_DIR", cache.path())
            .env("GRADER_CACHE_KEEP", "1")
            .arg("grade")
            .arg("--lab")
            .arg(lab_file("shm"))
            .arg(dir)
            .output()
            .expect("run grader");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("GRADE: 30/30"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut want = vec![key_of(&reference), key_of(second.path())];
    want.sort();
    assert_eq!(
        entries(cache.path()),
        want,
        "the seed and the newest entry stay, the older one goes"
    );
}

macro_rules! lab_tests {
    ($($lab:ident),*) => {
        $(
            mod $lab {
                #[test]
                #[cfg_attr(not(ipc_lab_root), ignore = "needs root: the lab runs as several users")]
                fn reference_gets_full_marks() {
                    super::reference_gets_full_marks(stringify!($lab));
                }

                #[test]
                #[cfg_attr(not(ipc_lab_root), ignore = "needs root: the lab runs as several users")]
                fn starter_grades_low_with_real_hints() {
                    super::starter_grades_low_with_real_hints(stringify!($lab));
                }

                #[test]
                #[cfg_attr(not(ipc_lab_root), ignore = "needs root: the lab runs as several users")]
                fn variants_lose_exactly_their_checks() {
                    super::variants_lose_exactly_their_checks(stringify!($lab));
                }
            }
        )*
    };
}

lab_tests!(shm, proxy, monitor, deputy);
