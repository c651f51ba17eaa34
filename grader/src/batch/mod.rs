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

pub mod gradebook;
mod launch;
pub(crate) mod made;
mod outputs;
mod progress;
mod roster;
mod row;
mod worker;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::grade::{self, Options};
use crate::lab::Lab;
use crate::{privilege, report, sandbox};

pub use roster::{Entry, collect as collect_submissions};
pub use row::{Outcome, Row, RowStatus};

use launch::Launcher;
use outputs::Layout;
use progress::Progress;
use row::Earlier;

/// Slots are numbered from 1; more than this many at once is a typo, not a plan.
pub const MAX_JOBS: usize = 64;

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
     directory it cannot write, users it cannot create";

#[derive(Debug, clap::Args)]
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
    /// Submissions graded at the same time [default: the number of cores].
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_JOBS as i64))]
    pub jobs: Option<u32>,
    /// Lab definition file [default: the IPC lab built into the grader].
    #[arg(long, value_name = "FILE")]
    pub lab: Option<PathBuf>,
    /// Longest one submission may take, build included, before its grading is stopped and its
    /// row says `infra`.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub timeout: String,
    #[command(flatten)]
    pub env: crate::cli::Environment,
    /// Internal: grade the one DIR in this slot and print its outcome line (what the batch runs).
    #[arg(long, value_name = "SLOT", hide = true)]
    pub worker: Option<u32>,
    /// Internal: where a worker writes its reports (`PREFIX.json`, `.xml`, `.txt`).
    #[arg(long, value_name = "PREFIX", hide = true, requires = "worker")]
    pub stage: Option<PathBuf>,
}

pub fn main(args: BatchArgs) -> ExitCode {
    let lab = match &args.lab {
        Some(path) => Lab::load(path),
        None => Lab::embedded(),
    };
    let lab = match lab {
        Ok(lab) => lab,
        Err(e) => return fail(&e.to_string()),
    };
    if let Some(slot) = args.worker {
        return worker_main(&args, slot, &lab);
    }
    match run(&args, &lab) {
        Ok(code) => code,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("grader: error: {message}");
    ExitCode::from(crate::cli::EXIT_ERROR)
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

fn worker_main(args: &BatchArgs, slot: u32, lab: &Lab) -> ExitCode {
    let (Some(stage), [dir]) = (&args.stage, args.dirs.as_slice()) else {
        return fail("a worker grades exactly one DIR and needs --stage");
    };
    match options(args, Some(slot)) {
        Ok(opts) => worker::run(lab, dir, stage, &opts),
        Err(message) => fail(&message),
    }
}

/// What every row ended as.
#[derive(Debug, Default)]
struct Tally {
    graded: usize,
    error: usize,
    infra: usize,
}

fn run(args: &BatchArgs, lab: &Lab) -> Result<ExitCode, String> {
    let started = Instant::now();
    let entries = roster::collect(&args.dirs, &args.glob, args.roster.as_deref())
        .map_err(|e| e.to_string())?;
    let timeout =
        crate::lab::units::parse_duration(&args.timeout).map_err(|e| format!("--timeout: {e}"))?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let jobs = args
        .jobs
        .map_or(cores, |j| usize::try_from(j).unwrap_or(MAX_JOBS))
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
            slot_uids.push(vec![users.owner.uid, users.confined.uid]);
        }
    } else {
        eprintln!(
            "batch: not root: every submission runs as you, not isolated from the others, and checks that need root are skipped; grade a class as root (e.g. in the grader's Docker image)"
        );
    }
    sandbox::become_subreaper().map_err(|e| e.to_string())?;
    let scratch = make_scratch(&base.scratch_parent, jobs)?;

    let launcher = Launcher {
        program: worker_program()?,
        shared_args: shared_args(args, &base)?,
        timeout,
        layout: layout.clone(),
        slot_uids,
        scratch: scratch.clone(),
        lab_digest: lab.digest.clone(),
    };
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
    crate::scratch::remove_leftovers(&scratch);
    report::write_atomically(
        &layout.gradebook(),
        gradebook::render(&parts, &rows).as_bytes(),
    )
    .map_err(|e| e.to_string())?;

    let mut tally = Tally::default();
    for row in &rows {
        match row.status {
            RowStatus::Graded => tally.graded += 1,
            RowStatus::Error => tally.error += 1,
            RowStatus::Infra | RowStatus::Pending => tally.infra += 1,
        }
    }
    let mut seconds: Vec<f64> = rows.iter().filter_map(|r| r.seconds).collect();
    println!(
        "batch: {} submissions in {:.1} s with {jobs} jobs: {} graded, {} error, {} infra; median {:.2} s per submission",
        rows.len(),
        started.elapsed().as_secs_f64(),
        tally.graded,
        tally.error,
        tally.infra,
        median(&mut seconds)
    );
    println!("batch: gradebook: {}", layout.gradebook().display());
    Ok(ExitCode::from(if tally.infra > 0 {
        crate::cli::EXIT_ERROR
    } else if tally.error > 0 {
        crate::cli::EXIT_FAILED
    } else {
        crate::cli::EXIT_PASSED
    }))
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
    if let Some(lab) = &args.lab {
        let path = std::path::absolute(lab)
            .map_err(|e| format!("cannot resolve {}: {e}", lab.display()))?;
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
