//! `grader batch`: grades a whole class and writes a gradebook.
//!
//! Design: one worker process per submission (`grader batch --worker SLOT ...`, see `worker`),
//! at most `--jobs` at a time. Each running worker holds a numbered *slot* for its whole run, and
//! a slot has its own users (`labowner-3`, `garfield-3`), a group only those two share, its own
//! lock file and its own scratch directory (see `grade::Options::slot`). So the kernel keeps
//! submissions apart: processes of one slot cannot signal or trace another's (different uids),
//! scratch trees and cache entries are closed to other slots (mode 0710/0750 with the slot's
//! group, the secret 0600), and the clean-up at the end of a run (kill every process of the
//! slot's users) cannot touch another slot. `grader grade` without a slot is unchanged.
//!
//! Submissions are handed to free slots in the order given, except that a regrade into the same
//! output directory starts with the ones that took longest last time (their times are in the
//! gradebook), so a slow one does not start last and hold up the end.
//!
//! A bad submission never stops the batch: its row says `error` and why. Failures of the grader
//! or the machine (a crash, a hang past `--timeout`, no users, a missing tool) say `infra`, and
//! then the earlier good result of that submission, if any, is kept (see `outputs`). This module
//! must never abort the batch for one submission, and never take a status from anything but a
//! worker's outcome line and its exit.

mod class_report;
mod course;
pub mod environment;
pub mod export;
pub mod gradebook;
mod hidden_paths;
mod launch;
pub mod manifest;
pub mod merge;

mod outputs;
mod progress;
mod roster;
mod row;
pub mod shard;
mod worker;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use engine::grade::{self, Options};
use engine::{Catalog, Registry};
use lab::Lab;
use sandbox::privilege;

pub use roster::{Entry, Person, collect as collect_submissions, read_people};
pub use row::{Outcome, Row, RowStatus};

use launch::Launcher;
use outputs::Layout;
use progress::Progress;
use row::Earlier;

pub const GRADEBOOK_EXIT_CODES: &str = "\
Exit status of `grader gradebook export` and `grader gradebook merge`:
  0  done, and everything matched (see each command's --help)
  1  done, but students were missing or extra; they are listed on stderr
  2  nothing written: bad input (the message says what is wrong and what to do)";

/// `grader gradebook`: what to do with gradebooks once a batch has written them.
#[derive(Debug, clap::Args)]
pub struct GradebookArgs {
    #[command(subcommand)]
    pub command: GradebookCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum GradebookCommand {
    /// Write a gradebook in the CSV layout Canvas or Moodle imports (or a plain CSV), one row
    /// per roster student.
    #[command(after_help = export::EXIT_CODES)]
    Export(export::ExportArgs),
    /// Join the outputs of `grader batch --shard K/N` runs into one gradebook and one set of
    /// reports, refusing shards of different labs, lab files, grader versions or classes.
    #[command(after_help = merge::EXIT_CODES)]
    Merge(merge::MergeArgs),
}

pub fn gradebook_main(args: &GradebookArgs, catalog: &Catalog) -> ExitCode {
    match &args.command {
        GradebookCommand::Export(args) => export::main(args),
        GradebookCommand::Merge(args) => merge::main(args, catalog),
    }
}

/// Slots are numbered from 1; more than this many at once is a typo, not a plan.
pub const MAX_JOBS: usize = 64;

/// Default slots per core. Much of a grade waits on student programs (a sleeping cat holds its
/// slot until its deadline), so more slots than cores overlap those waits. Measured with
/// `grader/bench/batch.sh` on 2 cores, 100 C/Python submissions: 34.6 s at 2 slots, 24.3 s at 4,
/// 20.7 s at 8, 20.5 s at 16 (CPU-bound from 8 on).
const JOBS_PER_CORE: usize = 4;

/// Names the program a batch runs as its worker instead of this grader. Meant for tests (a
/// worker that fails on purpose) and for trying another build of the grader on a class.
pub const WORKER_VAR: &str = "GRADER_BATCH_WORKER";

/// How often, at most, the gradebook is rewritten while the batch runs.
const GRADEBOOK_EVERY: Duration = Duration::from_secs(2);

pub const EXIT_CODES: &str = "\
Exit status:
  0  every submission was graded (whatever its score)
  1  some submission could not be graded because of the submission itself (row status `error`:
     missing, not a directory, unreadable, too large); the others were graded
  2  the grader or the machine failed for some submission (row status `infra`; an earlier good
     result of it is kept), or the batch could not start: a bad lab file or roster, an output
     directory it cannot write, users it cannot create
With several labs (`--lab A --lab B`, `--course FILE`): the worst status over all the labs' rows.
`--shard K/N` changes none of this: the statuses are those of the shard's students.";

#[derive(Debug, Clone, clap::Args)]
pub struct BatchArgs {
    /// Submission directories; the id in the gradebook is the directory's name.
    #[arg(value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// A pattern of submission directories, expanded by the grader (`*` and `?` within a path
    /// component), for places where no shell expands it, e.g. a CI file. May be repeated.
    #[arg(long, value_name = "PATTERN")]
    pub glob: Vec<String>,
    /// A roster: one `student_id,directory` per line (comma or tab; `#` comments; relative
    /// directories are relative to the roster).
    #[arg(long, value_name = "FILE")]
    pub roster: Option<PathBuf>,
    /// Where the gradebook and the per-submission reports go.
    #[arg(long, short = 'o', value_name = "DIR", default_value = "gradebook")]
    pub out: PathBuf,
    /// Submissions graded at the same time [default: four per core, at most 64].
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_JOBS as i64))]
    pub jobs: Option<u32>,
    /// The lab: a built-in lab's id or a lab file [default: ipc, built into the grader]. Given
    /// more than once (`--lab ipc --lab shm`), a course: one batch per lab into OUT/<lab id>/,
    /// then OUT/course.csv with a column per lab and the total (labs weighted equally).
    #[arg(long, value_name = "ID|FILE")]
    pub lab: Vec<PathBuf>,
    /// A course file: `[[labs]]` tables with `lab` (an id or a file), `weight` (default 1) and
    /// optionally the lab's own `roster`; gives OUT/<lab id>/ per lab and OUT/course.csv with
    /// the weighted total.
    #[arg(long, value_name = "FILE", conflicts_with = "lab")]
    pub course: Option<PathBuf>,
    /// Longest one submission may take, build included, before its grading is stopped and its
    /// row says `infra`.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub timeout: String,
    /// Grade only the K-th of N slices of the class (K from 1), e.g. `--shard
    /// "$CI_NODE_INDEX/$CI_NODE_TOTAL"` in a GitLab `parallel: N` job. The slices: students
    /// sorted by id, dealt round-robin (position i from 0 goes to shard i % N + 1), so the order
    /// on disk changes nothing. The output records its shard in batch.json; join shards with
    /// `grader gradebook merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<shard::Shard>,
    #[command(flatten)]
    pub env: crate::environment::Environment,
    /// Internal: grade the one DIR in this slot and print its outcome line (what the batch runs).
    #[arg(long, value_name = "SLOT", hide = true)]
    pub worker: Option<u32>,
    /// Internal: where a worker writes its reports (`PREFIX.json`, `.xml`, `.txt`).
    #[arg(long, value_name = "PREFIX", hide = true, requires = "worker")]
    pub stage: Option<PathBuf>,
    /// Internal: the file listing what a worker hides from student code (see `hidden_paths`).
    #[arg(long, value_name = "FILE", hide = true, requires = "worker")]
    pub hide_list: Option<PathBuf>,
}

pub fn main(args: BatchArgs, catalog: &Catalog) -> ExitCode {
    if args.worker.is_none() && (args.lab.len() > 1 || args.course.is_some()) {
        return match run_course(&args, catalog) {
            Ok(code) => code,
            Err(message) => fail(&message),
        };
    }
    let lab = match catalog.load(args.lab.first().map(PathBuf::as_path)) {
        Ok(lab) => lab,
        Err(e) => return fail(&e.to_string()),
    };
    if let Some(slot) = args.worker {
        return worker_main(&args, slot, &lab, &catalog.registry);
    }
    match run(&args, &lab, &catalog.registry) {
        Ok(code) => code,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("grader: error: {message}");
    ExitCode::from(engine::exit::EXIT_ERROR)
}

/// The exit of a gradebook command (`gradebook export`, `gradebook merge`): `tell` prints what
/// it found and says whether everything matched (0) or not (1); an error is 2.
fn reported<T>(outcome: Result<T, String>, tell: impl FnOnce(&T) -> bool) -> ExitCode {
    match outcome {
        Ok(found) => ExitCode::from(if tell(&found) {
            engine::exit::EXIT_PASSED
        } else {
            engine::exit::EXIT_FAILED
        }),
        Err(message) => fail(&message),
    }
}

fn options(args: &BatchArgs, slot: Option<u32>) -> Result<Options, String> {
    let mut opts = args.env.options();
    opts.slot = slot;
    if let Some(vendor) = &opts.vendor
        && !vendor.is_dir()
    {
        return Err(format!(
            "the offline crate set {} is not a directory\n  fix: point GRADER_VENDOR_DIR (or --vendor-dir) at the output of `cargo vendor`, or unset it",
            vendor.display()
        ));
    }
    Ok(opts)
}

fn worker_main(args: &BatchArgs, slot: u32, lab: &Lab, registry: &Registry) -> ExitCode {
    let (Some(stage), [dir]) = (&args.stage, args.dirs.as_slice()) else {
        return fail("a worker grades exactly one DIR and needs --stage");
    };
    let mut opts = match options(args, Some(slot)) {
        Ok(opts) => opts,
        Err(message) => return fail(&message),
    };
    if let Some(list) = &args.hide_list {
        match hidden_paths::read(list) {
            Ok(paths) => opts.hide = paths,
            Err(e) => return fail(&format!("cannot read {}: {e}", list.display())),
        }
    }
    worker::run(lab, registry, dir, stage, &opts)
}

/// Builds the lab's seed (its reference, `[build] seed`) in slot 1 before the class when the
/// cache has no build of it yet, so that every submission's cargo build starts from its compiled
/// crate set (see `engine::build_seed`). It is not a row of the gradebook; a failure only means
/// the class builds without a seed.
fn build_seed_first(lab: &Lab, registry: &Registry, args: &BatchArgs, scratch: &Path) {
    let Ok(mut opts) = options(args, Some(1)) else {
        return;
    };
    opts.scratch_parent = scratch.to_path_buf();
    if let Some(took) = engine::build_seed::build_first(lab, registry, &opts) {
        eprintln!(
            "batch: built the lab's reference crates first ({:.1} s): every submission's build starts from them",
            took.as_secs_f64()
        );
    }
}

/// What every row ended as.
#[derive(Debug, Default)]
struct Tally {
    graded: usize,
    error: usize,
    infra: usize,
}

fn run(args: &BatchArgs, lab: &Lab, registry: &Registry) -> Result<ExitCode, String> {
    let started = Instant::now();
    let mut entries = roster::collect(&args.dirs, &args.glob, args.roster.as_deref())
        .map_err(|e| e.to_string())?;
    let class: Vec<String> = entries.iter().map(|e| e.student.clone()).collect();
    let every_dir: Vec<PathBuf> = entries.iter().map(|e| e.dir.clone()).collect();
    if let Some(shard) = args.shard {
        let ids: Vec<&str> = class.iter().map(String::as_str).collect();
        let mine = shard.select(&ids);
        entries = mine.into_iter().map(|i| entries[i].clone()).collect();
        println!(
            "batch: shard {shard}: {} of {} students",
            entries.len(),
            class.len()
        );
    }
    let timeout =
        lab::units::parse_duration(&args.timeout).map_err(|e| format!("--timeout: {e}"))?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let jobs = args
        .jobs
        .map_or(cores * JOBS_PER_CORE, |j| {
            usize::try_from(j).unwrap_or(MAX_JOBS)
        })
        .clamp(1, MAX_JOBS)
        .min(entries.len());
    let base = options(args, None)?;
    let layout = Layout::create(&args.out).map_err(|e| e.to_string())?;
    // Refuse an unwritable gradebook before grading anyone.
    report::ensure_parent_exists(&layout.gradebook()).map_err(|e| e.to_string())?;

    let mut slot_uids = Vec::new();
    if privilege::is_root() {
        // Made one after another here, so parallel workers never race `useradd`.
        for slot in 1..=jobs {
            let slot = u32::try_from(slot).unwrap_or(u32::MAX);
            let users = grade::ensure_users(lab, Some(slot))
                .map_err(|e| format!("cannot set up the users of slot {slot}: {e}"))?;
            slot_uids.push(users.roles.iter().map(|(_, id)| id.uid).collect());
        }
    } else {
        eprintln!(
            "batch: not root: every submission runs as you, not isolated from the others, and checks that need root are skipped; grade a class as root (e.g. in the grader's Docker image)"
        );
    }
    sandbox::become_subreaper().map_err(|e| e.to_string())?;
    let scratch = make_scratch(&base.scratch_parent, jobs)?;
    let hide_list = scratch.join("hidden-from-students");
    hidden_paths::write(&hide_list, &hidden_paths::plan(&every_dir, &args.out))
        .map_err(|e| format!("cannot write {}: {e}", hide_list.display()))?;
    let mut worker_args = shared_args(args, &base)?;
    worker_args.extend(["--hide-list".into(), hide_list.into()]);
    // The cache must hold the whole class (and twins of identical submissions), or a regrade of
    // the class would rebuild it.
    let keep = base.cache_keep.max(entries.len() + jobs + 2);
    worker_args.extend(["--cache-keep".into(), keep.to_string().into()]);

    let launcher = Launcher {
        program: worker_program()?,
        shared_args: worker_args,
        timeout,
        layout: layout.clone(),
        slot_uids,
        scratch: scratch.clone(),
        lab_digest: lab.digest.clone(),
    };
    if privilege::is_root() {
        build_seed_first(lab, registry, args, &launcher.slot_scratch(1));
    }
    let parts: Vec<String> = lab.parts.iter().map(|p| p.id.clone()).collect();
    let rows: Mutex<(Vec<Row>, Instant)> = Mutex::new((
        entries
            .iter()
            .map(|e| Row::pending(&e.student, &e.dir))
            .collect(),
        Instant::now(),
    ));
    let progress = Mutex::new(Progress::new(entries.len()));
    let order = schedule(&entries, &layout);
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for slot in 1..=jobs {
            let slot = u32::try_from(slot).unwrap_or(u32::MAX);
            let (launcher, entries, rows, progress, next, parts, layout, order) = (
                &launcher, &entries, &rows, &progress, &next, &parts, &layout, &order,
            );
            scope.spawn(move || {
                while let Some(&index) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let entry = &entries[index];
                    let (outcome, took) = launcher.grade(slot, entry);
                    let row = settle(layout, entry, outcome, took);
                    lock(progress).finished(&row);
                    let mut guard = lock(rows);
                    let (rows, last_written) = &mut *guard;
                    rows[index] = row;
                    if last_written.elapsed() >= GRADEBOOK_EVERY {
                        // A failure here is caught by the final write.
                        let _ = report::write_atomically(
                            &layout.gradebook(),
                            gradebook::render(parts, rows).as_bytes(),
                        );
                        *last_written = Instant::now();
                    }
                }
            });
        }
    });
    lock(&progress).end();
    for slot in 1..=jobs {
        launcher.clean_slot(u32::try_from(slot).unwrap_or(u32::MAX));
    }
    let (rows, _) = rows.into_inner().unwrap_or_else(|p| p.into_inner());
    layout.tidy();
    engine::scratch::remove_leftovers(&scratch);
    report::write_atomically(
        &layout.gradebook(),
        gradebook::render(&parts, &rows).as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    manifest::Manifest {
        format: manifest::FORMAT,
        lab: lab.name.clone(),
        lab_hash: lab.digest.clone(),
        grader_version: env!("CARGO_PKG_VERSION").to_string(),
        shard: args.shard,
        shard_rule: args.shard.map(|_| shard::RULE.to_string()),
        class,
        students: rows.iter().map(|r| r.student.clone()).collect(),
    }
    .write(&layout.root)?;
    let class_report = class_report::write(&layout, lab, &entries, &rows)?;

    let mut tally = Tally::default();
    for row in &rows {
        match row.status {
            RowStatus::Graded => tally.graded += 1,
            RowStatus::Error => tally.error += 1,
            RowStatus::Infra | RowStatus::Pending => tally.infra += 1,
        }
    }
    let mut seconds: Vec<f64> = rows.iter().filter_map(|r| r.seconds).collect();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    println!(
        "batch: {} in {:.1} s with {}: {} graded, {} error, {} infra; median {:.2} s per submission",
        plural(rows.len(), "submission", "submissions"),
        started.elapsed().as_secs_f64(),
        plural(jobs, "job", "jobs"),
        tally.graded,
        tally.error,
        tally.infra,
        median(&mut seconds)
    );
    println!("batch: gradebook: {}", layout.gradebook().display());
    println!("batch: class report: {}", class_report.display());
    Ok(ExitCode::from(if tally.infra > 0 {
        engine::exit::EXIT_ERROR
    } else if tally.error > 0 {
        engine::exit::EXIT_FAILED
    } else {
        engine::exit::EXIT_PASSED
    }))
}

/// A course: one batch per lab, each into `OUT/<lab id>/`, then `OUT/course.csv` (see
/// `course`). Every lab is loaded before anything is graded, so a bad lab file costs no time.
/// Exit status: the worst of the labs' (2 if any row is `infra`, 1 if any is `error`).
fn run_course(args: &BatchArgs, catalog: &Catalog) -> Result<ExitCode, String> {
    if args.shard.is_some() {
        return Err(
            "--shard grades one lab at a time\n  fix: run one sharded batch per lab, merge each, and grade the course from one machine or per lab".to_string(),
        );
    }
    let plan: Vec<course::CourseLab> = match &args.course {
        Some(path) => course::read(path)?,
        None => args
            .lab
            .iter()
            .map(|lab| course::CourseLab {
                lab: lab.clone(),
                weight: 1.0,
                roster: None,
            })
            .collect(),
    };
    let mut labs = Vec::new();
    for planned in &plan {
        let lab = catalog
            .load(Some(&planned.lab))
            .map_err(|e| e.to_string())?;
        if labs
            .iter()
            .any(|(_, l): &(&course::CourseLab, Lab)| l.name == lab.name)
        {
            return Err(format!(
                "the lab `{}` is in the course twice\n  fix: list each lab once",
                lab.name
            ));
        }
        labs.push((planned, lab));
    }
    let mut worst = engine::exit::EXIT_PASSED;
    let mut results = Vec::new();
    for (planned, lab) in &labs {
        let mut one = args.clone();
        one.lab = vec![planned.lab.clone()];
        one.course = None;
        one.out = args.out.join(&lab.name);
        if let Some(roster) = &planned.roster {
            one.roster = Some(roster.clone());
            one.dirs.clear();
            one.glob.clear();
        }
        println!(
            "course: lab {} (weight {}) into {}",
            lab.name,
            planned.weight,
            one.out.display()
        );
        run(&one, lab, &catalog.registry)?;
        let file = one.out.join("gradebook.csv");
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let table = gradebook::Table::read(&text)
            .map_err(|e| format!("{} cannot be read: {e}", file.display()))?;
        for row in &table.rows {
            let code = match table.cell(row, "status") {
                "graded" => engine::exit::EXIT_PASSED,
                "error" => engine::exit::EXIT_FAILED,
                _ => engine::exit::EXIT_ERROR,
            };
            worst = worst.max(code);
        }
        results.push(course::LabResult {
            id: lab.name.clone(),
            weight: planned.weight,
            max: lab.max_points(),
            table,
        });
    }
    let path = args.out.join("course.csv");
    report::write_atomically(&path, course::render(&results).as_bytes())
        .map_err(|e| e.to_string())?;
    println!("course: gradebook: {}", path.display());
    Ok(ExitCode::from(worst))
}

/// The order to grade in: longest first by the times of the gradebook already in the output
/// directory (a regrade), so a slow submission does not start last and hold up the end; those
/// without a time (new ones, perhaps a slow first build) before all of them. Ties keep the order
/// given. The gradebook itself always keeps the order given.
fn schedule(entries: &[Entry], layout: &Layout) -> Vec<usize> {
    let text = std::fs::read_to_string(layout.gradebook()).unwrap_or_default();
    let earlier = gradebook::earlier_seconds(&text);
    let mut order: Vec<usize> = (0..entries.len()).collect();
    let key = |i: usize| {
        earlier
            .get(&entries[i].student)
            .copied()
            .unwrap_or(f64::INFINITY)
    };
    order.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
    order
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Turns a worker's outcome into the row, moving its reports into place, or, when the grader
/// failed, keeping the earlier ones and their score.
fn settle(layout: &Layout, entry: &Entry, outcome: Outcome, took: Duration) -> Row {
    let mut row = Row::from_outcome(&entry.student, &entry.dir, outcome, took.as_secs_f64());
    if matches!(row.status, RowStatus::Graded | RowStatus::Error) {
        let moved = if layout.staged(&entry.stem, "json").is_file() {
            layout
                .promote(&entry.stem)
                .map_err(|e| format!("cannot move the reports into place: {e}"))
        } else {
            Err("the grader reported a result but wrote no report".to_string())
        };
        if let Err(why) = moved {
            row = Row::from_outcome(
                &entry.student,
                &entry.dir,
                Outcome::failed(RowStatus::Infra, &row.lab_digest, why),
                took.as_secs_f64(),
            );
        }
    }
    if row.status == RowStatus::Infra {
        layout.discard(&entry.stem);
        let earlier = layout.json(&entry.stem);
        if let Some(kept) = Earlier::read(&earlier) {
            let shown = earlier
                .strip_prefix(&layout.root)
                .map_or(earlier.clone(), Path::to_path_buf);
            row.keep_earlier(kept, &shown);
        }
    }
    row
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        f64::midpoint(values[mid - 1], values[mid])
    }
}

fn worker_program() -> Result<PathBuf, String> {
    match std::env::var_os(WORKER_VAR) {
        Some(program) => Ok(PathBuf::from(program)),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find the grader's own executable to run workers: {e}")),
    }
}

/// What every worker is told besides its slot and submission: the same lab file (by absolute
/// path, so it cannot change meaning) and the same caches and tools as the batch.
fn shared_args(args: &BatchArgs, base: &Options) -> Result<Vec<OsString>, String> {
    let mut out: Vec<OsString> = Vec::new();
    if let Some(lab) = args.lab.first() {
        // A bare name (`--lab shm`) stays as given: the worker, in the same directory, reads it
        // by the catalog's own rule (a built-in id first). Made absolute, an id would name a
        // file that does not exist.
        let path = if lab.components().count() == 1 {
            lab.clone()
        } else {
            std::path::absolute(lab)
                .map_err(|e| format!("cannot resolve {}: {e}", lab.display()))?
        };
        out.extend(["--lab".into(), path.into()]);
    }
    out.extend(["--cache-dir".into(), base.cache_dir.clone().into()]);
    if let Some(vendor) = &base.vendor {
        out.extend(["--vendor-dir".into(), vendor.clone().into()]);
    }
    if let Some(path) = &base.tool_path {
        out.extend(["--tool-path".into(), path.clone()]);
    }
    Ok(out)
}

/// The batch's scratch directory with one directory per slot, all root's and 0711: workers make
/// their scratch trees inside, and what a stopped worker leaves can be found and removed.
fn make_scratch(parent: &Path, jobs: usize) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let err = |path: &Path, e: std::io::Error| {
        format!(
            "cannot prepare the scratch directory {}: {e}\n  fix: make it writable (set --scratch-dir or TMPDIR)",
            path.display()
        )
    };
    let dir = tempfile::Builder::new()
        .prefix("ipc-lab-batch-")
        .tempdir_in(parent)
        .map_err(|e| err(parent, e))?
        .keep();
    for path in
        std::iter::once(dir.clone()).chain((1..=jobs).map(|n| dir.join(format!("slot-{n}"))))
    {
        if path != dir {
            std::fs::create_dir(&path).map_err(|e| err(&path, e))?;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o711))
            .map_err(|e| err(&path, e))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }
}
