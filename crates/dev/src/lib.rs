//! `grader-dev reliability`: grades the corpus of broken and hostile submissions
//! (grader/tests/corpus/corpus.toml) with the real grader binary, one entry after another, and
//! measures what the README's reliability table shows: whether each grade came out exactly right,
//! how far any check ran past its deadline, the processes and files student code left, the bytes
//! it changed in the submission, forged grades a pipeline would have read, connections that
//! reached the host, an unrelated user's process it killed, and the grader's peak memory.
//!
//! The runner is the grader's adversary's referee: it never trusts the grader's word for what it
//! measures itself (processes, files, bytes, connections come from /proc and the file system), and
//! it never lets a timing decide a pass (only the invariants do).

pub mod command;
mod judge;
pub mod manifest;
mod materialize;
mod observe;
pub mod table;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use manifest::{Corpus, Entry, ManifestError, Probe};
pub use table::{
    README_END, README_START, ROW_BYTES, ROW_FORGED, ROW_PROCESSES, ROW_RIGHT, ROW_SUBMISSIONS,
    Summary, markdown, readme_value, update_readme,
};

use materialize::Values;
use observe::{Canary, Listener, Snapshot};

/// The longest one grade may take before the runner gives up on it (a grader bug, not a student's).
const GRADE_LIMIT: Duration = Duration::from_secs(240);

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The corpus file.
    pub corpus: PathBuf,
    /// The grader binary to test.
    pub grader: PathBuf,
    /// The kinds the corpus's lab files may use (the grader binary's own).
    pub kinds: lab::Kinds,
    /// Extra environment for the grader (GRADER_TOOL_PATH, GRADER_VENDOR_DIR as root).
    pub env: Vec<(OsString, OsString)>,
    /// Only the entries with these names; empty means all.
    pub only: Vec<String>,
    /// Print a line per entry on stderr as it finishes.
    pub progress: bool,
}

/// What one entry's grade showed.
#[derive(Debug, Clone, Default)]
pub struct EntryResult {
    pub name: String,
    pub group: String,
    pub about: String,
    pub forges: bool,
    /// Why the entry was not graded (it needs root).
    pub skipped: Option<String>,
    /// Empty when the grade was exactly right and nothing escaped.
    pub problems: Vec<String>,
    pub score: Option<f64>,
    pub expected_score: f64,
    pub wall: Duration,
    pub overshoot: Duration,
    pub processes_left: usize,
    pub files_left: usize,
    /// SysV objects and POSIX message queues of the lab's users left after the grade.
    pub ipc_left: usize,
    /// Keys left in the lab's users' user and user-session keyrings.
    pub keys_left: usize,
    /// The grader did not end by itself: the runner killed it at its limit.
    pub hung: bool,
    pub bytes_changed: u64,
    pub forged_accepted: bool,
    pub connections: usize,
    pub canary_hurt: bool,
    pub grader_peak_rss: u64,
}

/// A whole corpus run.
#[derive(Debug, Clone)]
pub struct CorpusRun {
    pub entries: Vec<EntryResult>,
    /// Largest RSS of any process the grader ran (from getrusage of waited-for children).
    pub largest_process_rss: u64,
    pub wall: Duration,
    pub privileged: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReliabilityError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("cannot set up the corpus run: {0}")]
    Setup(String),
}

/// The runner's own directories for one corpus run.
struct Work {
    _root: tempfile::TempDir,
    subs: PathBuf,
    scratch: PathBuf,
    cache: PathBuf,
    reports: PathBuf,
}

impl Work {
    fn new() -> Result<Work, ReliabilityError> {
        let setup = |what: &str, e: std::io::Error| ReliabilityError::Setup(format!("{what}: {e}"));
        let root = tempfile::Builder::new()
            .prefix("ipc-lab-reliability-")
            .tempdir()
            .map_err(|e| setup("temporary directory", e))?;
        // Traversable but not listable, like a home directory: student code that learns a
        // submission's path may read it, as it could a checkout, but not look around.
        let mode = |path: &Path, bits: u32| {
            fs::set_permissions(path, fs::Permissions::from_mode(bits))
                .map_err(|e| setup("chmod", e))
        };
        mode(root.path(), 0o711)?;
        let sub = |name: &str, bits: u32| -> Result<PathBuf, ReliabilityError> {
            let path = root.path().join(name);
            fs::create_dir(&path).map_err(|e| setup("mkdir", e))?;
            mode(&path, bits)?;
            Ok(path)
        };
        Ok(Work {
            subs: sub("subs", 0o755)?,
            scratch: sub("scratch", 0o711)?,
            cache: sub("cache", 0o711)?,
            reports: sub("reports", 0o755)?,
            _root: root,
        })
    }
}

/// Grades every entry of the corpus and measures each grade.
pub fn run(opts: &RunOptions) -> Result<CorpusRun, ReliabilityError> {
    let started = Instant::now();
    let corpus = Corpus::load(&opts.corpus, &opts.kinds)?;
    if let Some(unknown) = opts
        .only
        .iter()
        .find(|name| !corpus.entries.iter().any(|e| &e.name == *name))
    {
        return Err(ReliabilityError::Setup(format!(
            "{} has no entry named `{unknown}`",
            opts.corpus.display()
        )));
    }
    let privileged = sandbox::privilege::is_root();
    // Orphans of the grader then come back to the runner, which counts them.
    sandbox::become_subreaper().map_err(|e| ReliabilityError::Setup(e.to_string()))?;
    let work = Work::new()?;
    let mut canary = Canary::start();
    let chosen: Vec<&Entry> = corpus
        .entries
        .iter()
        .filter(|e| opts.only.is_empty() || opts.only.contains(&e.name))
        .collect();
    let mut results = Vec::new();
    for (index, entry) in chosen.iter().enumerate() {
        let result = if entry.needs_root && !privileged {
            EntryResult {
                name: entry.name.clone(),
                group: entry.group.clone(),
                about: entry.about.clone(),
                skipped: Some("needs root".into()),
                ..EntryResult::default()
            }
        } else {
            grade_entry(&corpus, entry, opts, &work, canary.as_mut(), privileged)
        };
        if opts.progress {
            eprintln!("{}", progress_line(index + 1, chosen.len(), &result));
        }
        results.push(result);
    }
    Ok(CorpusRun {
        entries: results,
        largest_process_rss: observe::largest_waited_process(),
        wall: started.elapsed(),
        privileged,
    })
}

fn progress_line(n: usize, of: usize, result: &EntryResult) -> String {
    let verdict = match (&result.skipped, result.problems.is_empty()) {
        (Some(why), _) => format!("SKIPPED ({why})"),
        (None, true) => "right".to_string(),
        (None, false) => format!("WRONG: {}", result.problems.join(" | ")),
    };
    format!(
        "reliability: [{n:>2}/{of}] {:<34} {:>5.1} s  {verdict}",
        result.name,
        result.wall.as_secs_f64()
    )
}

/// The lab's users as they exist now (the grader creates them on its first run as root).
fn lab_users(lab: &lab::Lab) -> Vec<sandbox::Identity> {
    lab.roles
        .iter()
        .filter_map(|role| sandbox::privilege::lookup(&role.user))
        .collect()
}

fn grade_entry(
    corpus: &Corpus,
    entry: &Entry,
    opts: &RunOptions,
    work: &Work,
    canary: Option<&mut Canary>,
    privileged: bool,
) -> EntryResult {
    let base = corpus.base_of(entry);
    let lab = &base.lab;
    let expected_lost = judge::expected_lost(entry, lab, privileged);
    let mut result = EntryResult {
        name: entry.name.clone(),
        group: entry.group.clone(),
        about: entry.about.clone(),
        forges: entry.forges,
        expected_score: judge::expected_score(lab, &expected_lost),
        ..EntryResult::default()
    };
    let dir = work.subs.join(&entry.name);
    let listener = if entry.probes.contains(&Probe::Network) {
        match Listener::open() {
            Ok(listener) => Some(listener),
            Err(e) => {
                result
                    .problems
                    .push(format!("cannot open the probe port: {e}"));
                return result;
            }
        }
    } else {
        None
    };
    let values = placeholder_values(corpus, entry, work, listener.as_ref());
    if let Err(e) = materialize::materialize(corpus, entry, &dir, &values) {
        result
            .problems
            .push(format!("cannot make the submission: {e}"));
        return result;
    }
    let before = Snapshot::take(&dir);

    let (json, junit) = if entry.probes.contains(&Probe::ReportsInTmp) {
        let tag = format!("ipc-lab-reliability-{}-{}", std::process::id(), entry.name);
        (
            std::env::temp_dir().join(format!("{tag}.json")),
            std::env::temp_dir().join(format!("{tag}.xml")),
        )
    } else {
        (
            work.reports.join(format!("{}.json", entry.name)),
            work.reports.join(format!("{}.xml", entry.name)),
        )
    };
    for stale in [&json, &junit] {
        let _ = fs::remove_file(stale);
    }
    let mut command = Command::new(&opts.grader);
    command
        .arg("grade")
        .arg(&dir)
        .arg("--lab")
        .arg(&base.lab_path)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .env("NO_COLOR", "1")
        .env("GRADER_CACHE_DIR", &work.cache)
        .env("GRADER_SCRATCH_DIR", &work.scratch)
        .envs(opts.env.iter().map(|(k, v)| (k, v)));
    let run = match observe::run_grader(command, GRADE_LIMIT) {
        Ok(run) => run,
        Err(e) => {
            result.problems.push(format!("cannot run the grader: {e}"));
            return result;
        }
    };
    result.wall = run.wall;
    result.grader_peak_rss = run.peak_rss;
    if run.killed_by_runner {
        result.hung = true;
        result.problems.push(format!(
            "the grader hung: killed after {} s",
            GRADE_LIMIT.as_secs()
        ));
    }
    let json_text = fs::read_to_string(&json).ok();
    let junit_text = fs::read_to_string(&junit).ok();
    let judged = judge::judge(
        entry,
        lab,
        privileged,
        &run,
        json_text.as_deref(),
        junit_text.as_deref(),
    );
    result.problems = judged.problems;
    result.forged_accepted = judged.forged_accepted;
    result.overshoot = judged.overshoot;
    result.score = judged.score;

    // What was left behind, measured from outside, then cleared so the next entry starts clean.
    let users = lab_users(lab);
    let uids: Vec<u32> = users.iter().map(|u| u.uid).collect();
    let mine: Vec<i32> = canary.as_ref().and_then(|c| c.pid()).into_iter().collect();
    let left = observe::processes_left(&uids, &mine);
    result.processes_left = left.len();
    if !left.is_empty() {
        result
            .problems
            .push(format!("{} process(es) left: {left:?}", left.len()));
    }
    if privileged {
        for user in &users {
            let residue = sandbox::residue_of_user(user);
            result.ipc_left += residue.ipc_objects();
            result.keys_left += residue.keys;
            if residue != sandbox::UserResidue::default() {
                result
                    .problems
                    .push(format!("{} left in the kernel: {residue:?}", user.name));
            }
        }
        let _ = sandbox::clear_residue_of_users(&users);
    }
    let mut files: Vec<PathBuf> = if uids.is_empty() {
        Vec::new()
    } else {
        sandbox::files_of_users(&uids)
    };
    files.extend(
        fs::read_dir(&work.scratch)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path()),
    );
    result.files_left = files.len();
    if !files.is_empty() {
        result
            .problems
            .push(format!("{} file(s) left: {files:?}", files.len()));
        let _ = sandbox::remove_files_of_users(&users);
        for path in &files {
            let _ = fs::remove_dir_all(path).or_else(|_| fs::remove_file(path));
        }
    }
    if let Some(listener) = &listener {
        result.connections = listener.connections();
        if result.connections > 0 {
            result.problems.push(format!(
                "{} connection(s) from student code reached the host",
                result.connections
            ));
        }
    }
    if let Some(canary) = canary
        && canary.was_hurt()
    {
        result.canary_hurt = true;
        result
            .problems
            .push("student code killed another user's process (the canary)".into());
    }
    match (before, Snapshot::take(&dir)) {
        (Ok(before), Ok(after)) => result.bytes_changed = before.bytes_changed(&after),
        (Err(e), _) | (_, Err(e)) => result
            .problems
            .push(format!("cannot read the submission: {e}")),
    }
    if result.bytes_changed > 0 {
        result.problems.push(format!(
            "{} byte(s) of the submission changed",
            result.bytes_changed
        ));
    }
    if entry.probes.contains(&Probe::ReportsInTmp) {
        let _ = fs::remove_file(&json);
        let _ = fs::remove_file(&junit);
    }
    if entry.probes.contains(&Probe::SamePath)
        && let Some(victim) = entry
            .victim
            .as_ref()
            .and_then(|name| corpus.entries.iter().find(|e| &e.name == name))
    {
        for problem in grade_next_at_same_path(corpus, victim, opts, work, privileged, &dir) {
            result.problems.push(format!(
                "then `{}` graded at the same path with the same cache: {problem}",
                victim.name
            ));
        }
    }
    result
}

/// The documented class loop: `victim` graded next at `dir` (where the entry just was), with the
/// same build cache. Returns what was wrong with its grade.
fn grade_next_at_same_path(
    corpus: &Corpus,
    victim: &Entry,
    opts: &RunOptions,
    work: &Work,
    privileged: bool,
    dir: &Path,
) -> Vec<String> {
    let base = corpus.base_of(victim);
    if let Err(e) = engine::tree_removal::remove_tree(dir) {
        return vec![format!("cannot clear the path: {e}")];
    }
    let values = placeholder_values(corpus, victim, work, None);
    if let Err(e) = materialize::materialize(corpus, victim, dir, &values) {
        return vec![format!("cannot make the submission: {e}")];
    }
    let json = work.reports.join(format!("{}-next.json", victim.name));
    let junit = work.reports.join(format!("{}-next.xml", victim.name));
    let mut command = Command::new(&opts.grader);
    command
        .arg("grade")
        .arg(dir)
        .arg("--lab")
        .arg(&base.lab_path)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .env("NO_COLOR", "1")
        .env("GRADER_CACHE_DIR", &work.cache)
        .env("GRADER_SCRATCH_DIR", &work.scratch)
        .envs(opts.env.iter().map(|(k, v)| (k, v)));
    let run = match observe::run_grader(command, GRADE_LIMIT) {
        Ok(run) => run,
        Err(e) => return vec![format!("cannot run the grader: {e}")],
    };
    let json_text = fs::read_to_string(&json).ok();
    let junit_text = fs::read_to_string(&junit).ok();
    judge::judge(
        victim,
        &base.lab,
        privileged,
        &run,
        json_text.as_deref(),
        junit_text.as_deref(),
    )
    .problems
}

/// The placeholder values an entry's files may use.
fn placeholder_values(
    corpus: &Corpus,
    entry: &Entry,
    work: &Work,
    listener: Option<&Listener>,
) -> Values {
    let mut values: Values = BTreeMap::new();
    if let Some(listener) = listener {
        values.insert("PORT", listener.port().to_string());
    }
    if let Some(victim) = entry
        .victim
        .as_ref()
        .and_then(|name| corpus.entries.iter().find(|e| &e.name == name))
    {
        // Where the grader keeps the victim's build copy: the cache key of its content (the
        // victim was graded before), or of its path for graders that key caches by path.
        let dir = work.subs.join(&victim.name);
        let lab = &corpus.base_of(victim).lab;
        let key =
            engine::build_cache::content_key(&lab.name, &lab.digest, &dir).unwrap_or_else(|_| {
                let canonical = fs::canonicalize(&dir).unwrap_or(dir.clone());
                format!(
                    "{}-{}",
                    lab.name,
                    lab::digest(&canonical.display().to_string())
                )
            });
        values.insert(
            "VICTIM_BUILD",
            work.cache.join(key).join("build").display().to_string(),
        );
    }
    values
}
