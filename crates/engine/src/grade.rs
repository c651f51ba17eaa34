//! One grading run, start to finish: check the submission is there, set up the lab's users (as
//! root), make the scratch tree, run every check in order with its dependencies, and always clean
//! up: no process of the lab's users and no scratch directory outlives the run.
//!
//! Errors here mean "could not grade" (exit 2): they are about the grader's environment or the
//! lab file, never about the student's work, which only ever produces failed checks.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::checks::{self, BuildSetup, Context};
use crate::kind::Registry;
use crate::made::MadeCache;
use crate::scratch::{Owners, Scratch, ScratchError};
use lab::Lab;
use report::model::{CheckResult, Report, RunMode, Status, Visibility};
use sandbox::privilege;
use sandbox::{self, Identity, Limits, Spec, Stdin};

/// PATH for student processes when root: system directories only, plus where the official Rust
/// image keeps cargo. A root's own PATH may point into /root, which the lab's users cannot read.
pub const ROOT_TOOL_PATH: &str =
    "/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone)]
pub struct Options {
    /// Where build caches live (one directory per lab and submission path).
    pub cache_dir: PathBuf,
    /// Where scratch trees are made.
    pub scratch_parent: PathBuf,
    /// Offline crate set (`cargo vendor` output) for cargo builds.
    pub vendor: Option<PathBuf>,
    /// PATH for student processes; default: ROOT_TOOL_PATH as root, the grader's PATH otherwise.
    pub tool_path: Option<OsString>,
    /// Keep the scratch tree for debugging (its path is printed as a notice).
    pub keep_scratch: bool,
    /// A batch slot: when set (and root), the run uses the slot's own users (`labowner-3`,
    /// `garfield-3`), a group only those two share, and a lock of its own, so runs in other slots
    /// go on at the same time and neither see nor disturb this one. None: the lab's users as they
    /// are named, and the machine-wide lock.
    pub slot: Option<u32>,
    /// Notices the caller adds at the top of the report (e.g. "this looks like another edition").
    pub notices: Vec<String>,
    /// More directories student code must never see, besides the ones the run hides by itself
    /// (see `isolation`): a batch's other submissions and its output directory.
    pub hide: Vec<PathBuf>,
    /// How many build cache entries the cache keeps, the most recently used (see
    /// `cache_eviction`).
    pub cache_keep: usize,
}

impl Options {
    pub fn from_defaults() -> Options {
        let tmp = std::env::temp_dir();
        // Root's cache is closed to everyone else (0711), so another user gets one of its own.
        let uid = rustix::process::geteuid().as_raw();
        let cache = if uid == 0 {
            "ipc-lab-cache".to_string()
        } else {
            format!("ipc-lab-cache-{uid}")
        };
        Options {
            cache_dir: tmp.join(cache),
            scratch_parent: tmp,
            vendor: None,
            tool_path: None,
            keep_scratch: false,
            slot: None,
            notices: Vec::new(),
            hide: Vec::new(),
            cache_keep: crate::cache_eviction::DEFAULT_KEEP,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    #[error(
        "the submission directory {0} does not exist\n  fix: give the path of the student's repository, e.g. `grader grade path/to/repo`"
    )]
    Missing(PathBuf),
    #[error(
        "{0} is not a directory\n  fix: give the path of the student's repository, not a file in it"
    )]
    NotADirectory(PathBuf),
    #[error(
        "the submission directory {path} cannot be read: {source}\n  fix: make it readable by the grader (in Docker: mount it with -v \"$PWD\":/submission:ro)"
    )]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the lab defines no roles, and as root the grader never runs student code as root\n  fix: add [[roles]] (id, user, groups) or a [users] table with an owner and a confined user to the lab file"
    )]
    NoUsers,
    #[error("cannot set up the lab's users: {0}")]
    Users(#[from] privilege::PrivilegeError),
    #[error(
        "cannot prepare the scratch directory: {0}\n  fix: make sure {1} exists, is writable and has free space (set --scratch-dir or TMPDIR)"
    )]
    Scratch(ScratchError, PathBuf),
    #[error(
        "cannot prepare the build cache {path}: {source}\n  fix: make it writable, or choose another with --cache-dir"
    )]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{tool}` is needed but {problem}\n  fix: grade inside the lab's Docker image (docker/grade.sh), or set GRADER_TOOL_PATH to directories holding `{tool}` that every user can read (now: {path}); on a machine with a root toolchain, in a clone of the repository, `eval \"$(bash .ci/native-toolchain.sh | sed 's/^/export /')\"` copies it where the lab's users can read it and sets GRADER_TOOL_PATH and GRADER_VENDOR_DIR"
    )]
    MissingTool {
        tool: String,
        problem: String,
        path: String,
    },
    #[error("no random numbers available for the fixtures: {0}")]
    Random(String),
    #[error(
        "cannot use the build cache {1}: {0}\n  fix: choose a cache directory of your own with --cache-dir (or GRADER_CACHE_DIR), e.g. --cache-dir ~/.cache/ipc-lab"
    )]
    CacheEntry(ScratchError, PathBuf),
    #[error("{0}")]
    Lock(#[from] crate::users_lock::LockError),
}

impl GradeError {
    /// Whether the submission itself is why it could not be graded (missing, not a directory,
    /// unreadable, too large), rather than the machine, the tools or the lab file. A batch shows
    /// the first kind as the student's `error` and the second as an infrastructure failure.
    pub fn blames_submission(&self) -> bool {
        matches!(
            self,
            GradeError::Missing(_)
                | GradeError::NotADirectory(_)
                | GradeError::Unreadable { .. }
                | GradeError::Scratch(ScratchError::TooLarge, _)
        )
    }
}

/// Whether GRADER_TIMINGS is set: phases and checks then say on stderr how long they took.
fn timings_on() -> bool {
    std::env::var_os("GRADER_TIMINGS").is_some()
}

/// Prints how long each phase took to stderr when GRADER_TIMINGS is set (for benchmarks).
struct Phases {
    on: bool,
    last: Instant,
}

impl Phases {
    fn new() -> Phases {
        Phases {
            on: timings_on(),
            last: Instant::now(),
        }
    }

    fn done(&mut self, phase: &str) {
        if self.on {
            eprintln!(
                "grader: timing: {phase}: {:.1} ms",
                self.last.elapsed().as_secs_f64() * 1e3
            );
        }
        self.last = Instant::now();
    }
}

/// Whether this machine has a network interface besides loopback: with `docker run --network
/// none` it has none, and student code is cut off without the grader's own namespace.
fn has_route_out() -> bool {
    std::fs::read_dir("/sys/class/net").map_or(true, |entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_str().is_some_and(|n| n != "lo"))
    })
}

/// Grades one submission.
pub fn grade(
    lab: &Lab,
    registry: &Registry,
    submission: &Path,
    opts: &Options,
) -> Result<Report, GradeError> {
    let started = Instant::now();
    let mut phases = Phases::new();
    check_submission_dir(submission)?;
    let privileged = privilege::is_root();
    let mut notices = opts.notices.clone();

    // Grading runs that share the lab's users must not overlap: each ends by killing every
    // process of those users. The lock is held until this function returns. A batch slot has
    // users and a lock of its own.
    let slot = opts.slot.filter(|_| privileged);
    let _users_lock = if privileged {
        Some(lock_users(&users_lock_path(slot))?)
    } else {
        None
    };
    let mut slot_gid = None;
    let (owners, mode) = if privileged {
        let users = ensure_users(lab, slot)?;
        slot_gid = users.slot_gid;
        let all: Vec<Identity> = users.roles.iter().map(|(_, id)| id.clone()).collect();
        // Leftovers of an earlier run that died would share the users' process limits.
        for id in &all {
            let _ = sandbox::kill_all_of_user(id.uid);
        }
        // And files they left in /tmp and the like (see `sandbox::remove_files_of_users`).
        let _ = sandbox::remove_files_of_users(&all);
        // And IPC objects and keys (see `sandbox::clear_residue_of_users`).
        let _ = sandbox::clear_residue_of_users(&all);
        let mode = RunMode::Privileged {
            users: users
                .roles
                .iter()
                .map(|(role, id)| (role.clone(), id.name.clone()))
                .collect(),
        };
        (
            Owners {
                owner: users.roles.first().map(|(_, id)| id.clone()),
                roles: users.roles.into_iter().collect(),
            },
            mode,
        )
    } else {
        let user = uzers::get_current_username().map_or_else(
            || "unknown".to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        notices.push(format!(
            "Not root: everything runs as {user}, and checks that need the sandbox user are skipped. Grade in Docker for the full lab: docker/grade.sh"
        ));
        (Owners::default(), RunMode::Unprivileged { user })
    };

    let tool_path = opts.tool_path.clone().unwrap_or_else(|| {
        if privileged {
            ROOT_TOOL_PATH.into()
        } else {
            std::env::var_os("PATH").unwrap_or_else(|| ROOT_TOOL_PATH.into())
        }
    });
    phases.done("users");
    preflight_tools(lab, &tool_path, owners.owner.as_ref())?;
    phases.done("tools");

    let isolate_network = privileged && sandbox::network_isolation_available();
    if privileged {
        notices.extend(crate::isolation::missing_notices());
    }
    if privileged && !isolate_network && has_route_out() {
        notices.push("This container cannot make network namespaces, so student code is not cut off from the network by the grader: run it with `docker run --network none` (docker/grade.sh does).".to_string());
    }

    phases.done("network probe");
    let mut scratch = Scratch::create(&opts.scratch_parent, &owners)
        .map_err(|e| GradeError::Scratch(e, opts.scratch_parent.clone()))?;
    // The build cache entry of these bytes, claimed for this grade alone (see `cache_claim`).
    let claim = lab
        .build
        .as_ref()
        .map(|_| crate::cache_claim::claim(&opts.cache_dir, cache_key(lab, submission)));
    let key = claim.as_ref().map_or("", |c| c.key.as_str());
    // Until the clean-up guard below owns it, a failure must not leave the scratch tree behind.
    let prepared = prepare_scratch(lab, opts, &mut scratch, &owners, slot_gid, key);
    let build = match prepared {
        Ok(build) => build,
        Err(e) => {
            if !opts.keep_scratch {
                let _ = scratch.remove(&owners);
            }
            return Err(e);
        }
    };
    // A slot's cache entry is opened to the slot's group for this run only (see `Cleanup`). Any
    // root run closes its entry at the end too: the users are shared by every submission graded
    // on this machine, and the next student's code must not read or change this one's build.
    let sealed_run = slot_gid.is_some() || owners.owner.is_some();
    let cache_entry = sealed_run
        .then_some(build.target_dir.as_deref())
        .flatten()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    let guard = Cleanup {
        scratch: &scratch,
        owners: &owners,
        keep: opts.keep_scratch,
        cache_entry,
        done: false,
    };
    if opts.keep_scratch {
        notices.push(format!("Scratch tree kept at {}", scratch.root.display()));
    }
    // In a privileged run (as root, or in a batch slot), a make-style build's output is kept per
    // submission (see `made`): a regrade of the same files does not build again.
    let made = match &lab.build {
        Some(build) if !build.cargo && sealed_run => Some(
            MadeCache::at(&opts.cache_dir, key).map_err(|source| GradeError::Cache {
                path: opts.cache_dir.clone(),
                source,
            })?,
        ),
        _ => None,
    };
    let restored = match &made {
        Some(cache) => cache.fill(&scratch, submission, &owners),
        None => scratch.copy_submission(submission, &owners).map(|()| false),
    }
    .map_err(|e| GradeError::Scratch(e, opts.scratch_parent.clone()))?;
    // The cached build output is used only when it was made from exactly these bytes.
    if let Some(target) = &build.target_dir
        && !scratch.copy_matched_cache()
    {
        reset_target(target, owners.owner.as_ref()).map_err(|source| GradeError::Cache {
            path: target.clone(),
            source,
        })?;
        // New bytes: start from the lab's reference build, if one is sealed in the cache.
        if let Some(owner) = &owners.owner
            && crate::build_seed::fill_from_seed(lab, &opts.cache_dir, key, target, owner)
        {
            phases.done("seed");
        }
    }

    phases.done("scratch and copy");
    let contents = fixture_contents(lab)?;
    scratch
        .lay_out_fixtures(&lab.fixtures, &contents, &owners)
        .map_err(|e| GradeError::Scratch(e, opts.scratch_parent.clone()))?;

    let mut values = contents;
    values.insert("build".into(), scratch.build.display().to_string());
    if let Some(target) = &build.target_dir {
        values.insert("target".into(), target.display().to_string());
    }

    let ctx = Context {
        lab,
        submission,
        scratch: &scratch,
        owners: &owners,
        build: &build,
        values,
        tool_path,
        isolate_network,
        build_reused: restored,
        registry,
    };
    phases.done("fixtures");
    let remember = made.as_ref().filter(|_| !restored).map(|cache| {
        let scratch = &scratch;
        move || cache.remember(scratch)
    });
    let pod_view = (privileged && sandbox::pod::pods_available())
        .then(|| crate::isolation::pod_view(submission, opts, &ctx));
    let results = run_checks_then(
        lab,
        &ctx,
        remember.as_ref().map(|f| f as &(dyn Fn() + Sync)),
        pod_view.as_ref(),
    );
    phases.done("checks");
    let mut guard = guard;
    notices.extend(guard.run());
    phases.done("cleanup");
    if claim.is_some() {
        let protect: Vec<String> = crate::build_seed::seed_key(lab).into_iter().collect();
        crate::cache_eviction::evict(&opts.cache_dir, opts.cache_keep, &protect);
        phases.done("cache eviction");
    }

    Ok(Report {
        lab_name: lab.name.clone(),
        lab_title: lab.title.clone(),
        lab_source: lab.source.clone(),
        lab_digest: lab.digest.clone(),
        grader_version: env!("CARGO_PKG_VERSION").to_string(),
        submission: submission.to_path_buf(),
        mode,
        parts: lab
            .parts
            .iter()
            .map(|p| (p.id.clone(), p.title.clone()))
            .collect(),
        checks: results,
        notices,
        execution_time: started.elapsed(),
        withheld: Vec::new(),
    })
}

/// Runs the checks. A check runs once every check it depends on has a result; checks that are
/// ready together run in parallel (they mostly wait on student processes), and results keep the
/// lab's order. A check whose dependency did not pass is skipped with the reason.
pub fn run_checks(lab: &Lab, ctx: &Context<'_>) -> Vec<CheckResult> {
    run_checks_then(lab, ctx, None, None)
}

/// `run_checks`, with `after_build` called once the build checks passed. Given one, the build
/// checks run alone, before any other check, so that when it is called no student code but the
/// build has run since the copy (see `made`); the checks that were ready beside them then run
/// as a wave of their own, as they would have beside the builds.
fn run_checks_then(
    lab: &Lab,
    ctx: &Context<'_>,
    mut after_build: Option<&(dyn Fn() + Sync)>,
    pod_view: Option<&sandbox::View>,
) -> Vec<CheckResult> {
    // Most checks wait on a student process that sleeps, so more threads than cores pay off.
    let jobs = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 4)
        .clamp(2, 16);
    let is_build = |i: usize| lab.checks[i].is_build();
    // With GRADER_TIMINGS, where each check sat in time, to see what the grade waits on.
    let timeline = timings_on().then(Instant::now);
    let mut results: Vec<Option<CheckResult>> = vec![None; lab.checks.len()];
    // The checks that were ready beside builds that ran alone: they run next, by themselves, so
    // that the waves are the same whether or not a build is kept (a runaway program of a check
    // that needs the build never runs beside one that did not).
    let mut held_back: Vec<usize> = Vec::new();
    loop {
        let mut ready: Vec<usize> = if held_back.is_empty() {
            (0..lab.checks.len())
                .filter(|&i| results[i].is_none())
                .filter(|&i| {
                    lab.checks[i]
                        .depends_on
                        .iter()
                        .all(|dep| results.iter().flatten().any(|r| &r.id == dep))
                })
                .collect()
        } else {
            std::mem::take(&mut held_back)
        };
        if ready.is_empty() {
            break;
        }
        let builds_alone = after_build.is_some() && ready.iter().any(|&i| is_build(i));
        if builds_alone {
            held_back = ready.iter().copied().filter(|&i| !is_build(i)).collect();
            ready.retain(|&i| is_build(i));
        }
        // A small work queue: the ready checks are taken in lab order by up to `jobs` threads,
        // so one long check (the idle window, a slow build) does not hold back the others.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done: Vec<(usize, CheckResult)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..jobs.min(ready.len()))
                .map(|_| {
                    let (finished, ready, next) = (&results, &ready, &next);
                    scope.spawn(move || {
                        let mut mine = Vec::new();
                        loop {
                            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&i) = ready.get(k) else { break };
                            let from = timeline.map(|t| t.elapsed());
                            let result = run_one(lab, &lab.checks[i], finished, ctx, pod_view);
                            if let Some(from) = from {
                                eprintln!(
                                    "grader: timing: check {}: from {:.1} ms for {:.1} ms",
                                    result.id,
                                    from.as_secs_f64() * 1e3,
                                    result.duration.as_secs_f64() * 1e3
                                );
                            }
                            mine.push((i, result));
                        }
                        mine
                    })
                })
                .collect();
            workers
                .into_iter()
                .filter_map(|w| w.join().ok())
                .flatten()
                .collect()
        });
        for (i, result) in done {
            results[i] = Some(result);
        }
        if builds_alone {
            let passed = (0..lab.checks.len()).filter(|&i| is_build(i)).all(|i| {
                results[i]
                    .as_ref()
                    .is_some_and(|r| r.status == Status::Passed)
            });
            if let Some(hook) = after_build.take()
                && passed
            {
                hook();
            }
        }
    }
    results.into_iter().flatten().collect()
}

fn run_one(
    lab: &Lab,
    check: &lab::Check,
    finished: &[Option<CheckResult>],
    ctx: &Context<'_>,
    pod_view: Option<&sandbox::View>,
) -> CheckResult {
    let started = Instant::now();
    let blocked = check.depends_on.iter().find(|dep| {
        finished
            .iter()
            .flatten()
            .find(|r| &r.id == *dep)
            .is_none_or(|r| r.status != Status::Passed)
    });
    let verdict = match blocked {
        Some(dep) => checks::Verdict::skip(format!("`{dep}` did not pass")),
        None => {
            // Every process of the check runs in one pod, killed when the check ends.
            let pod = pod_view.map(|view| sandbox::pod::enter(view.clone(), ctx.isolate_network));
            let verdict = checks::run(check, ctx);
            drop(pod);
            if check.is_build() {
                seal_build_cache(ctx);
            }
            verdict
        }
    };
    let part_title = lab
        .part(&check.part)
        .map_or_else(|| check.part.clone(), |p| p.title.clone());
    CheckResult {
        id: check.id.clone(),
        title: check.title.clone(),
        part: check.part.clone(),
        part_title,
        max_points: check.points,
        points: if verdict.status == Status::Passed {
            check.points
        } else {
            0.0
        },
        status: verdict.status,
        summary: verdict.summary,
        evidence: verdict.evidence,
        duration: started.elapsed(),
        visibility: match check.visibility {
            lab::Visibility::Visible => Visibility::Visible,
            lab::Visibility::Hidden => Visibility::Hidden,
            lab::Visibility::AfterDueDate => Visibility::AfterDueDate,
            lab::Visibility::AfterPublished => Visibility::AfterPublished,
        },
    }
}

/// Where root graders serialise: one machine-wide file, whatever cache or scratch directory
/// each run uses, because they all share the lab's users.
pub const USERS_LOCK: &str = "/tmp/ipc-lab-grader.lock";

/// The lock a run takes: the machine-wide one, or its batch slot's own (slot runs have users of
/// their own, so they only wait for an earlier run in the same slot).
pub fn users_lock_path(slot: Option<u32>) -> PathBuf {
    match slot {
        None => PathBuf::from(USERS_LOCK),
        Some(n) => PathBuf::from(format!("/tmp/ipc-lab-grader-slot-{n}.lock")),
    }
}

/// The user name a role has in a run: the lab's own, or, in batch slot `n`, the same name with
/// `-n` appended; a slot also has a group `ipc-lab-slot-n` that only its users are members of.
pub fn user_name(user: &str, slot: Option<u32>) -> String {
    match slot {
        None => user.to_string(),
        Some(n) => format!("{user}-{n}"),
    }
}

/// The group only the users of batch slot `n` share.
pub fn slot_group(slot: u32) -> String {
    format!("ipc-lab-slot-{slot}")
}

/// The users one run's student code runs as, found or made, by role in the lab's order.
#[derive(Debug, Clone)]
pub struct RunUsers {
    pub roles: Vec<(String, Identity)>,
    /// The slot's own group, in a batch slot.
    pub slot_gid: Option<u32>,
}

/// As root: finds or creates the groups and users a run needs (see [`user_name`]). A batch calls
/// it for every slot before it starts grading, so that parallel runs never race `useradd`.
pub fn ensure_users(lab: &Lab, slot: Option<u32>) -> Result<RunUsers, GradeError> {
    if lab.roles.is_empty() {
        return Err(GradeError::NoUsers);
    }
    for group in lab
        .fixtures
        .iter()
        .filter_map(|f| f.group.as_ref())
        .chain(lab.roles.iter().flat_map(|r| &r.groups))
    {
        privilege::ensure_group(group)?;
    }
    let slot_group = slot.map(slot_group);
    let slot_gid = match &slot_group {
        Some(group) => Some(privilege::ensure_group(group)?),
        None => None,
    };
    let mut roles = Vec::new();
    for role in &lab.roles {
        let mut groups: Vec<&str> = role.groups.iter().map(String::as_str).collect();
        if let Some(group) = &slot_group {
            groups.push(group);
        }
        let id = privilege::ensure_user(&user_name(&role.user, slot), &groups)?;
        roles.push((role.id.clone(), id));
    }
    Ok(RunUsers { roles, slot_gid })
}

/// Takes a users lock (see [`users_lock_path`]), waiting for another grading run to finish for
/// at most `users_lock::give_up_after()` (see `users_lock`).
pub fn lock_users(path: &Path) -> Result<std::fs::File, GradeError> {
    Ok(crate::users_lock::take(
        path,
        crate::users_lock::give_up_after(),
    )?)
}

/// The fallible steps between making the scratch tree and handing it to the clean-up guard:
/// the slot's group, the build set-up and the cached build directory.
fn prepare_scratch(
    lab: &Lab,
    opts: &Options,
    scratch: &mut Scratch,
    owners: &Owners,
    slot_gid: Option<u32>,
    key: &str,
) -> Result<BuildSetup, GradeError> {
    if let Some(gid) = slot_gid {
        scratch
            .confine_to_group(gid)
            .map_err(|e| GradeError::Scratch(e, opts.scratch_parent.clone()))?;
    }
    let build = build_setup(lab, opts, scratch, owners, slot_gid, key)?;
    if let Some(dir) = &build.build_dir {
        scratch
            .use_build_dir(dir.clone(), owners)
            .map_err(|e| GradeError::CacheEntry(e, opts.cache_dir.clone()))?;
    }
    Ok(build)
}

fn check_submission_dir(path: &Path) -> Result<(), GradeError> {
    let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => GradeError::Missing(path.to_path_buf()),
        _ => GradeError::Unreadable {
            path: path.to_path_buf(),
            source,
        },
    })?;
    if !meta.is_dir() {
        return Err(GradeError::NotADirectory(path.to_path_buf()));
    }
    std::fs::read_dir(path).map_err(|source| GradeError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(())
}

/// Every tool the lab names by bare name must be on the students' PATH and, as root, runnable by
/// the owner user: otherwise the run could only end in confusing failures.
fn preflight_tools(
    lab: &Lab,
    tool_path: &OsString,
    owner: Option<&Identity>,
) -> Result<(), GradeError> {
    let mut tools: Vec<&str> = Vec::new();
    if let Some(build) = &lab.build
        && let Some(head) = build.command.first()
    {
        tools.push(head);
    }
    for command in lab.programs.values() {
        if let Some(head) = command.first()
            && !head.contains('{')
            && !tools.contains(&head.as_str())
        {
            tools.push(head);
        }
    }
    let shown_path = tool_path.to_string_lossy().into_owned();
    for tool in tools {
        let resolved = checks::resolve_program(tool, tool_path);
        if !Path::new(&resolved).is_file() {
            return Err(GradeError::MissingTool {
                tool: tool.to_string(),
                problem: "it is not on the PATH given to student code".into(),
                path: shown_path,
            });
        }
        if let Some(owner) = owner {
            let spec = Spec {
                program: resolved,
                args: vec!["--version".into()],
                cwd: PathBuf::from("/"),
                env: vec![
                    ("PATH".into(), tool_path.clone()),
                    ("HOME".into(), "/nonexistent".into()),
                ],
                stdin: Stdin::Null,
                identity: Some(owner.clone()),
                limits: Limits {
                    cpu_seconds: 30,
                    address_space: None,
                    file_size: 1 << 20,
                    processes: 64,
                    open_files: 256,
                },
                deadline: std::time::Duration::from_secs(30),
                output_cap: 4096,
                isolate_network: false,
                ready_fd: None,
            };
            let ok = sandbox::run(spec)
                .map(|o| o.ending == sandbox::Ending::Exited(0))
                .unwrap_or(false);
            if !ok {
                return Err(GradeError::MissingTool {
                    tool: tool.to_string(),
                    problem: format!(
                        "user {} cannot run it (`{tool} --version` failed as that user)",
                        owner.name
                    ),
                    path: shown_path,
                });
            }
        }
    }
    Ok(())
}

/// Fixture texts for this run: randomised ones get a fresh suffix, so a program that prints a
/// remembered answer instead of reading the file fails.
fn fixture_contents(lab: &Lab) -> Result<BTreeMap<String, String>, GradeError> {
    let mut out = BTreeMap::new();
    for f in &lab.fixtures {
        let Some(content) = &f.content else { continue };
        let text = if f.randomise {
            let mut bytes = [0u8; 4];
            getrandom::fill(&mut bytes).map_err(|e| GradeError::Random(e.to_string()))?;
            let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("{content} [run {token}]")
        } else {
            content.clone()
        };
        out.insert(f.id.clone(), text);
    }
    Ok(out)
}

fn build_setup(
    lab: &Lab,
    opts: &Options,
    scratch: &Scratch,
    owners: &Owners,
    slot_gid: Option<u32>,
    key: &str,
) -> Result<BuildSetup, GradeError> {
    let Some(build) = &lab.build else {
        return Ok(BuildSetup::default());
    };
    if !build.cargo {
        return Ok(BuildSetup::default());
    }
    let cache_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GradeError::Cache { path, source }
    };
    let dir = opts.cache_dir.join(key);
    std::fs::create_dir_all(&opts.cache_dir).map_err(cache_err(&opts.cache_dir))?;
    let mut passthrough: Vec<(OsString, OsString)> = Vec::new();
    for var in ["RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(v) = std::env::var_os(var) {
            passthrough.push((var.into(), v));
        }
    }
    let cargo_home = if let Some(owner) = &owners.owner {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // The cache root and the submission's entry belong to the grader; only the target
        // directory inside is the owner user's, so the grader can always empty the build copy.
        for d in [&dir] {
            match std::fs::symlink_metadata(d) {
                Ok(m) if m.is_dir() && m.uid() == 0 => {}
                Ok(_) => {
                    let _ = std::fs::remove_dir_all(d).or_else(|_| std::fs::remove_file(d));
                    std::fs::create_dir(d).map_err(cache_err(d))?;
                }
                Err(_) => std::fs::create_dir(d).map_err(cache_err(d))?,
            }
        }
        std::fs::set_permissions(&opts.cache_dir, std::fs::Permissions::from_mode(0o711))
            .map_err(cache_err(&opts.cache_dir))?;
        // In a batch slot the entry is open to the slot's group only, so a submission graded in
        // another slot at the same time cannot reach this one's build output.
        let mode = match slot_gid {
            Some(gid) => {
                std::os::unix::fs::lchown(&dir, Some(0), Some(gid)).map_err(cache_err(&dir))?;
                0o750
            }
            None => 0o755,
        };
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
            .map_err(cache_err(&dir))?;
        let target = dir.join("target");
        // No parent of the build directory may be writable by student code while another
        // slot's build runs: cargo reads a `.cargo/config.toml` in every one (a build script could
        // plant a rustc-wrapper there for the next build). A pod's own /tmp is private to it, so
        // /tmp is fine with namespaces; one grade at a time is fine too (what the users left in
        // shared directories is removed before the next grade starts), so this binds batch slots.
        let private = sandbox::pod::namespaces_available() && sandbox::pod::pods_available();
        if let Some(open) = crate::build_cache::writable_ancestor(&dir)
            .filter(|d| {
                !(private
                    && ["/tmp", "/var/tmp", "/dev/shm"]
                        .iter()
                        .any(|p| d == Path::new(p)))
            })
            .filter(|_| slot_gid.is_some())
        {
            return Err(GradeError::Cache {
                path: opts.cache_dir.clone(),
                source: std::io::Error::other(format!(
                    "{} is writable by users other than root, and cargo reads .cargo/config.toml in every parent of the build directory (a build script could plant one for the next student): use a cache directory whose parents only root can write, e.g. /var/cache/ipc-lab",
                    open.display()
                )),
            });
        }
        match std::fs::symlink_metadata(&target) {
            Ok(m) if m.is_dir() && m.uid() == owner.uid => {}
            // Sealed by the last grade of these bytes (see `seal_build_cache`): the build may
            // write in it again.
            Ok(m) if m.is_dir() && m.uid() == 0 => {
                if crate::scratch::hand_over_tree(&target, owner).is_err() {
                    reset_target(&target, Some(owner)).map_err(cache_err(&target))?;
                }
            }
            // Only the grader makes entries in the root-owned `dir`, so a target directory of
            // another uid is this submission's own, built in another batch slot: hand it over
            // rather than rebuild.
            Ok(m) if m.is_dir() && slot_gid.is_some() => {
                crate::scratch::hand_over_tree(&target, owner)
                    .map_err(|e| GradeError::Scratch(e, opts.cache_dir.clone()))?;
            }
            Ok(_) => {
                // Made by another user or not a directory: never reuse what we cannot trust.
                let _ = std::fs::remove_dir_all(&target).or_else(|_| std::fs::remove_file(&target));
                create_owned_dir(&target, owner).map_err(cache_err(&target))?;
            }
            Err(_) => create_owned_dir(&target, owner).map_err(cache_err(&target))?,
        }
        Some(scratch.cargo_home.clone())
    } else {
        std::fs::create_dir_all(&dir).map_err(cache_err(&dir))?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        if !passthrough.iter().any(|(k, _)| k == "RUSTUP_HOME")
            && let Some(h) = &home
            && h.join(".rustup").is_dir()
        {
            passthrough.push(("RUSTUP_HOME".into(), h.join(".rustup").into()));
        }
        std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".cargo")))
    };
    Ok(BuildSetup {
        target_dir: Some(dir.join("target")),
        build_dir: Some(dir.join("build")),
        vendor: opts.vendor.clone(),
        cargo_home,
        passthrough,
    })
}

/// A submission's entry in the build cache: the lab's name and a digest of the submission's
/// canonical path, so a regrade of the same directory finds its earlier build.
fn cache_key(lab: &Lab, submission: &Path) -> String {
    // By content: two students at one path never share an entry, and a regrade of the same
    // bytes finds its build. (A submission that cannot be read fails the copy later anyway.)
    if let Ok(key) = crate::build_cache::content_key(&lab.name, &lab.digest, submission) {
        return key;
    }
    let canonical = std::fs::canonicalize(submission).unwrap_or_else(|_| submission.to_path_buf());
    format!(
        "{}-{}",
        lab.name,
        lab::digest(&canonical.display().to_string())
    )
}

/// Empties a cargo target directory whose output was not made from the bytes now graded.
fn reset_target(target: &Path, owner: Option<&Identity>) -> std::io::Result<()> {
    crate::tree_removal::remove_tree(target)?;
    match owner {
        Some(owner) => create_owned_dir(target, owner),
        None => std::fs::create_dir_all(target),
    }
}

/// After the build (and every process it started) ended, gives the cache entry's build output
/// and source copy to root, so no student program run after it can change what a later grade
/// of the same bytes reuses. An entry that cannot be sealed is emptied instead.
fn seal_build_cache(ctx: &Context<'_>) {
    let (Some(target), Some(owner)) = (&ctx.build.target_dir, &ctx.owners.owner) else {
        return;
    };
    let _ = sandbox::kill_all_of_user(owner.uid);
    for dir in [target.as_path(), ctx.scratch.build.as_path()] {
        if let Err(e) = crate::build_cache::seal(dir) {
            eprintln!(
                "grader: warning: cannot seal the build cache {}: {e}",
                dir.display()
            );
            let _ = reset_target(target, Some(owner));
        }
    }
}

fn create_owned_dir(dir: &Path, owner: &Identity) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    std::os::unix::fs::chown(dir, Some(owner.uid), Some(owner.gid))
}

/// Kills every process of the lab's users and removes the scratch tree, whatever happened.
/// In a batch slot it also closes the submission's cache entry to everyone but root, so a later
/// run in the same slot (the same users, another student) cannot write into this one's build
/// output.
struct Cleanup<'a> {
    scratch: &'a Scratch,
    owners: &'a Owners,
    keep: bool,
    cache_entry: Option<PathBuf>,
    done: bool,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if !self.done {
            for problem in self.run() {
                eprintln!("grader: warning: {problem}");
            }
        }
    }
}

impl Cleanup<'_> {
    /// Does the clean-up once; returns what could not be cleaned, as notices for the report.
    fn run(&mut self) -> Vec<String> {
        self.done = true;
        let mut problems = Vec::new();
        let users = self.owners.all();
        for id in &users {
            if let Err(e) = sandbox::kill_all_of_user(id.uid) {
                problems.push(format!("processes of {} are left: {e}", id.name));
            }
        }
        // With none of their processes left, what they wrote outside the scratch tree goes too,
        // before any report is written (a planted file cannot stand in for one).
        if let Err(e) = sandbox::remove_files_of_users(&users) {
            problems.push(e.to_string());
        }
        if let Err(e) = sandbox::clear_residue_of_users(&users) {
            problems.push(e.to_string());
        }
        if !self.keep
            && let Err(e) = self.scratch.remove(self.owners)
        {
            problems.push(format!("the scratch tree could not be removed: {e}"));
        }
        if let Some(dir) = &self.cache_entry {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        problems
    }
}
