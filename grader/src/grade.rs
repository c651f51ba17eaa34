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

use crate::batch::made::MadeCache;
use crate::checks::{self, BuildSetup, Context};
use crate::lab::Lab;
use crate::model::{CheckResult, Report, RunMode, Status};
use crate::privilege;
use crate::sandbox::{self, Identity, Limits, Spec, Stdin};
use crate::scratch::{Owners, Scratch, ScratchError};

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
}

impl Options {
    pub fn from_defaults() -> Options {
        let tmp = std::env::temp_dir();
        Options {
            cache_dir: tmp.join("ipc-lab-cache"),
            scratch_parent: tmp,
            vendor: None,
            tool_path: None,
            keep_scratch: false,
            slot: None,
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
        "the lab defines no [users], and as root the grader never runs student code as root\n  fix: add a [users] table with an owner and a confined user to the lab file"
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
        "`{tool}` is needed but {problem}\n  fix: grade inside the lab's Docker image (docker/grade.sh), or set GRADER_TOOL_PATH to directories holding `{tool}` that every user can read (now: {path})"
    )]
    MissingTool {
        tool: String,
        problem: String,
        path: String,
    },
    #[error("no random numbers available for the fixtures: {0}")]
    Random(String),
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

/// Prints how long each phase took to stderr when GRADER_TIMINGS is set (for benchmarks).
struct Phases {
    on: bool,
    last: Instant,
}

impl Phases {
    fn new() -> Phases {
        Phases {
            on: std::env::var_os("GRADER_TIMINGS").is_some(),
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

/// Grades one submission.
pub fn grade(lab: &Lab, submission: &Path, opts: &Options) -> Result<Report, GradeError> {
    let started = Instant::now();
    let mut phases = Phases::new();
    check_submission_dir(submission)?;
    let privileged = privilege::is_root();
    let mut notices = Vec::new();

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
        let (owner, confined) = (users.owner, users.confined);
        // Leftovers of an earlier run that died would share the users' process limits.
        let _ = sandbox::kill_all_of_user(owner.uid);
        let _ = sandbox::kill_all_of_user(confined.uid);
        // And files they left in /tmp and the like (see `sandbox::remove_files_of_users`).
        let _ = sandbox::remove_files_of_users(&[owner.clone(), confined.clone()]);
        let mode = RunMode::Privileged {
            owner_user: owner.name.clone(),
            confined_user: confined.name.clone(),
        };
        (
            Owners {
                owner: Some(owner),
                confined: Some(confined),
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
    if privileged && !isolate_network {
        notices.push("This container cannot make network namespaces, so student code is not cut off from the network by the grader: run it with `docker run --network none` (docker/grade.sh does).".to_string());
    }

    phases.done("network probe");
    let mut scratch = Scratch::create(&opts.scratch_parent, &owners)
        .map_err(|e| GradeError::Scratch(e, opts.scratch_parent.clone()))?;
    if let Some(gid) = slot_gid {
        scratch
            .confine_to_group(gid)
            .map_err(|e| GradeError::Scratch(e, opts.scratch_parent.clone()))?;
    }
    let build = build_setup(lab, submission, opts, &scratch, &owners, slot_gid)?;
    // A slot's cache entry is opened to the slot's group for this run only (see `Cleanup`). Any
    // root run closes its entry at the end too: the users are shared by every submission graded
    // on this machine, and the next student's code must not read or change this one's build.
    let cache_entry = (slot_gid.is_some() || owners.owner.is_some())
        .then_some(build.target_dir.as_deref())
        .flatten()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    if let Some(dir) = &build.build_dir {
        scratch
            .use_build_dir(dir.clone(), &owners)
            .map_err(|e| GradeError::Scratch(e, opts.cache_dir.clone()))?;
    }
    let guard = Cleanup {
        scratch: &scratch,
        owners: &owners,
        keep: opts.keep_scratch,
        cache_entry,
    };
    if opts.keep_scratch {
        notices.push(format!("Scratch tree kept at {}", scratch.root.display()));
    }
    // In a batch slot, a make-style build's output is kept per submission (see `batch::made`).
    let made = match (&lab.build, slot_gid) {
        (Some(build), Some(_)) if !build.cargo => Some(
            MadeCache::at(&opts.cache_dir, &cache_key(lab, submission)).map_err(|source| {
                GradeError::Cache {
                    path: opts.cache_dir.clone(),
                    source,
                }
            })?,
        ),
        _ => None,
    };
    let restored = match &made {
        Some(cache) => cache.fill(&scratch, submission, &owners),
        None => scratch.copy_submission(submission, &owners).map(|()| false),
    }
    .map_err(|e| GradeError::Scratch(e, opts.scratch_parent.clone()))?;

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
    };
    phases.done("fixtures");
    let remember = made.as_ref().filter(|_| !restored).map(|cache| {
        let scratch = &scratch;
        move || cache.remember(scratch)
    });
    let results = run_checks_then(
        lab,
        &ctx,
        remember.as_ref().map(|f| f as &(dyn Fn() + Sync)),
    );
    phases.done("checks");
    drop(guard);
    phases.done("cleanup");

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
    })
}

/// Runs the checks. A check runs once every check it depends on has a result; checks that are
/// ready together run in parallel (they mostly wait on student processes), and results keep the
/// lab's order. A check whose dependency did not pass is skipped with the reason.
pub fn run_checks(lab: &Lab, ctx: &Context<'_>) -> Vec<CheckResult> {
    run_checks_then(lab, ctx, None)
}

/// `run_checks`, with `after_build` called once the build checks passed. Given one, the build
/// checks run alone, before any other check, so that when it is called no student code but the
/// build has run since the copy (see `batch::made`).
fn run_checks_then(
    lab: &Lab,
    ctx: &Context<'_>,
    mut after_build: Option<&(dyn Fn() + Sync)>,
) -> Vec<CheckResult> {
    // Most checks wait on a student process that sleeps, so more threads than cores pay off.
    let jobs = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 4)
        .clamp(2, 16);
    let is_build = |i: usize| matches!(lab.checks[i].kind, crate::lab::CheckKind::Build);
    let mut results: Vec<Option<CheckResult>> = vec![None; lab.checks.len()];
    loop {
        let mut ready: Vec<usize> = (0..lab.checks.len())
            .filter(|&i| results[i].is_none())
            .filter(|&i| {
                lab.checks[i]
                    .depends_on
                    .iter()
                    .all(|dep| results.iter().flatten().any(|r| &r.id == dep))
            })
            .collect();
        if ready.is_empty() {
            break;
        }
        let builds_alone = after_build.is_some() && ready.iter().any(|&i| is_build(i));
        if builds_alone {
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
                            mine.push((i, run_one(lab, &lab.checks[i], finished, ctx)));
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
    check: &crate::lab::Check,
    finished: &[Option<CheckResult>],
    ctx: &Context<'_>,
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
        Some(dep) => checks::Verdict::skip(format!("skipped: `{dep}` did not pass")),
        None => checks::run(check, ctx),
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

/// The names a run's users have: the lab's own, or, in batch slot `n`, the same names with `-n`
/// appended, plus a group `ipc-lab-slot-n` that only the slot's two users are members of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserNames {
    pub owner: String,
    pub confined: String,
    pub slot_group: Option<String>,
}

impl UserNames {
    pub fn of(users: &crate::lab::Users, slot: Option<u32>) -> UserNames {
        match slot {
            None => UserNames {
                owner: users.owner.clone(),
                confined: users.confined.clone(),
                slot_group: None,
            },
            Some(n) => UserNames {
                owner: format!("{}-{n}", users.owner),
                confined: format!("{}-{n}", users.confined),
                slot_group: Some(format!("ipc-lab-slot-{n}")),
            },
        }
    }
}

/// The users one run's student code runs as, found or made.
#[derive(Debug, Clone)]
pub struct RunUsers {
    pub owner: Identity,
    pub confined: Identity,
    /// The slot's own group, in a batch slot.
    pub slot_gid: Option<u32>,
}

/// As root: finds or creates the groups and users a run needs (see [`UserNames`]). A batch calls
/// it for every slot before it starts grading, so that parallel runs never race `useradd`.
pub fn ensure_users(lab: &Lab, slot: Option<u32>) -> Result<RunUsers, GradeError> {
    let users = lab.users.as_ref().ok_or(GradeError::NoUsers)?;
    for group in lab
        .fixtures
        .iter()
        .filter_map(|f| f.group.as_ref())
        .chain(&users.confined_groups)
    {
        privilege::ensure_group(group)?;
    }
    let names = UserNames::of(users, slot);
    let mut owner_groups: Vec<&str> = Vec::new();
    let mut confined_groups: Vec<&str> = users.confined_groups.iter().map(String::as_str).collect();
    let slot_gid = match &names.slot_group {
        Some(group) => {
            owner_groups.push(group);
            confined_groups.push(group);
            Some(privilege::ensure_group(group)?)
        }
        None => None,
    };
    let owner = privilege::ensure_user(&names.owner, &owner_groups)?;
    let confined = privilege::ensure_user(&names.confined, &confined_groups)?;
    Ok(RunUsers {
        owner,
        confined,
        slot_gid,
    })
}

/// Takes a users lock (see [`users_lock_path`]), waiting for another grading run to finish.
/// The file must be root's own: one planted by someone else is replaced, never trusted.
pub fn lock_users(path: &Path) -> Result<std::fs::File, GradeError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let path = path.to_path_buf();
    let err = |source| GradeError::Cache {
        path: path.clone(),
        source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(&path)
        && (!meta.is_file() || meta.uid() != 0)
    {
        std::fs::remove_file(&path).map_err(err)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .map_err(err)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| err(e.into()))?;
    Ok(file)
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
    submission: &Path,
    opts: &Options,
    scratch: &Scratch,
    owners: &Owners,
    slot_gid: Option<u32>,
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
    let dir = opts.cache_dir.join(cache_key(lab, submission));
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
        match std::fs::symlink_metadata(&target) {
            Ok(m) if m.is_dir() && m.uid() == owner.uid => {}
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
    let canonical = std::fs::canonicalize(submission).unwrap_or_else(|_| submission.to_path_buf());
    format!(
        "{}-{}",
        lab.name,
        crate::lab::digest(&canonical.display().to_string())
    )
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
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for id in [&self.owners.owner, &self.owners.confined]
            .into_iter()
            .flatten()
        {
            let _ = sandbox::kill_all_of_user(id.uid);
        }
        // With none of their processes left, what they wrote outside the scratch tree goes too,
        // before any report is written (a planted file cannot stand in for one).
        let users: Vec<Identity> = [&self.owners.owner, &self.owners.confined]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        let _ = sandbox::remove_files_of_users(&users);
        if !self.keep {
            let _ = self.scratch.remove(self.owners);
        }
        if let Some(dir) = &self.cache_entry {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
}
