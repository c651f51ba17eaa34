//! The machinery of the lab's trials: building submissions, laying out fixtures, running
//! programs as lab uids with deadlines, and the checks themselves (one function per lab.toml
//! check id, returning Ok when the submission passes it).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use serde::Deserialize;

// Numeric lab uids, far from the ones the grader gives its own lab users (20000 and up, one
// pair per batch slot): a grader running on the same machine kills every process of its users
// and removes their files under /tmp when it is done, which must never reach these trials.
pub const OWNER: u32 = 28001;
pub const GARFIELD: u32 = 28002;
pub const MALLORY: u32 = 28003;
pub const USERS_GID: u32 = 100;
pub const PIDNS_DRIVER: &str = "DEPUTY_PIDNS_DRIVER";

/// Deadline for one program in a trial.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);
/// Deadline for a readiness line.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A check of lab.toml, as code.
#[derive(Clone, Copy)]
pub struct Check {
    pub id: &'static str,
    pub run: fn(&Bins) -> Result<(), String>,
}

pub const CHECKS: &[Check] = &[
    Check {
        id: "authorised-read",
        run: authorised_read,
    },
    Check {
        id: "unauthorised-refused",
        run: unauthorised_refused,
    },
    Check {
        id: "attack-confused",
        run: attack_confused,
    },
    Check {
        id: "attack-symlink",
        run: attack_symlink,
    },
    Check {
        id: "attack-stale",
        run: attack_stale,
    },
    Check {
        id: "attack-impostor",
        run: attack_impostor,
    },
    Check {
        id: "revocation",
        run: revocation,
    },
    Check {
        id: "forget-exited",
        run: forget_exited,
    },
    Check {
        id: "attack-pid-reuse",
        run: attack_pid_reuse,
    },
];

/// The checks the starter is meant to fail (its design is the flawed one).
pub const STARTER_FAILS: &[&str] = &[
    "attack-confused",
    "attack-symlink",
    "attack-stale",
    "attack-impostor",
    "revocation",
    "forget-exited",
    "attack-pid-reuse",
];

/// Turn a check's result into the trial's, given what this submission should do.
/// A check's error that shows the flaw itself (the attack SUCCEEDED with this run's bytes, a
/// revoked reader read again, ...) starts with this; any other error means the run was broken.
pub const FLAW: &str = "FLAW: ";

pub fn judge(id: &str, got: Result<(), String>, expect_pass: bool) -> Result<(), Failed> {
    match (got, expect_pass) {
        (Ok(()), true) => Ok(()),
        (Err(e), false) if e.starts_with(FLAW) => Ok(()),
        (Err(e), false) => Err(format!(
            "{id}: expected the flaw to show, but the run failed otherwise: {e}"
        )
        .into()),
        (Ok(()), false) => {
            Err(format!("{id}: expected the flaw to show, but the check passed").into())
        }
        (Err(e), true) => Err(format!("{id}: {e}").into()),
    }
}

// ------------------------------------------------------------------ binaries

/// Where one submission's permd and fsd and the lab's tools are (readable by every uid).
#[derive(Debug, Clone)]
pub struct Bins {
    pub permd: PathBuf,
    pub fsd: PathBuf,
    pub tools: PathBuf,
}

impl Bins {
    pub fn tool(&self, name: &str) -> PathBuf {
        self.tools.join(name)
    }
}

fn lab_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tools/ sits in the lab directory")
        .to_path_buf()
}

fn target_base() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // <target>/<profile>/deps/lab-<hash>
    exe.ancestors()
        .nth(3)
        .expect("the test runs from <target>/<profile>/deps")
        .join("deputy-lab")
}

/// A directory every lab uid can enter, holding the copies of the programs.
fn stage() -> &'static Path {
    static STAGE: OnceLock<PathBuf> = OnceLock::new();
    STAGE.get_or_init(|| {
        let dir = target_base().join("stage");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tools")).expect("make the stage directory");
        for t in ["deputy-attack", "deputy-client", "deputy-launch"] {
            let from = match t {
                "deputy-attack" => env!("CARGO_BIN_EXE_deputy-attack"),
                "deputy-client" => env!("CARGO_BIN_EXE_deputy-client"),
                _ => env!("CARGO_BIN_EXE_deputy-launch"),
            };
            std::fs::copy(from, dir.join("tools").join(t)).expect("copy a tool");
        }
        open_up(&dir);
        dir
    })
}

/// Make `dir` and everything up to / traversable, and its files readable and executable.
fn open_up(dir: &Path) {
    for d in dir.ancestors() {
        if let Ok(meta) = std::fs::metadata(d) {
            let mode = meta.permissions().mode();
            if mode & 0o001 == 0 {
                let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode | 0o711));
            }
        }
    }
    let _ = Command::new("chmod").args(["-R", "a+rX"]).arg(dir).status();
}

type BuildSlot = Arc<OnceLock<Result<Bins, String>>>;

/// Build (once) the submission `name` from `src`, and stage its programs.
pub fn build(name: &str, src: &Path) -> Result<Bins, String> {
    static SLOTS: OnceLock<Mutex<HashMap<String, BuildSlot>>> = OnceLock::new();
    let slot = {
        let mut map = SLOTS
            .get_or_init(Default::default)
            .lock()
            .map_err(|_| "a build panicked")?;
        Arc::clone(map.entry(name.to_string()).or_default())
    };
    slot.get_or_init(|| {
        let target = target_base().join(format!("build-{name}"));
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "--offline",
                "--quiet",
                "--manifest-path",
            ])
            .arg(src.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "building {name} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let dir = stage().join(name);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for p in ["permd", "fsd"] {
            std::fs::copy(target.join("release").join(p), dir.join(p))
                .map_err(|e| format!("copy {p}: {e}"))?;
        }
        open_up(&dir);
        Ok(Bins {
            permd: dir.join("permd"),
            fsd: dir.join("fsd"),
            tools: stage().join("tools"),
        })
    })
    .clone()
}

/// The starter or the reference.
pub fn submission(name: &str) -> Result<Bins, Failed> {
    build(name, &lab_dir().join(name)).map_err(Failed::from)
}

// ------------------------------------------------------------------ fixtures

fn random_tag() -> String {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A run directory laid out like the lab's fixtures, with this run's random contents.
pub struct Run {
    path: PathBuf,
    _dir: Option<tempfile::TempDir>,
    pub secret: String,
    pub treasure: String,
}

impl Run {
    pub fn new() -> Result<Run, String> {
        let dir = tempfile::Builder::new()
            .prefix("deputy-run-")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?;
        let p = dir.path();
        let e = |e: std::io::Error| e.to_string();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o1777)).map_err(e)?;
        let secret = format!("Hey! This is a secret! {}", random_tag());
        let treasure = format!("Treasure found! {}", random_tag());
        let s = p.join("secret.txt");
        std::fs::write(&s, &secret).map_err(e)?;
        chown(&s, Some(OWNER), Some(OWNER)).map_err(e)?;
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o600)).map_err(e)?;
        let l = p.join("litterbox");
        std::fs::create_dir(&l).map_err(e)?;
        let t = l.join("treasure.txt");
        std::fs::write(&t, &treasure).map_err(e)?;
        chown(&t, Some(OWNER), Some(USERS_GID)).map_err(e)?;
        std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o640)).map_err(e)?;
        chown(&l, Some(GARFIELD), Some(USERS_GID)).map_err(e)?;
        std::fs::set_permissions(&l, std::fs::Permissions::from_mode(0o775)).map_err(e)?;
        Ok(Run {
            path: p.to_path_buf(),
            _dir: Some(dir),
            secret,
            treasure,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

// ------------------------------------------------------------------ processes

/// Make `cmd` run as `uid` (primary group = uid, plus `groups`), never as root.
pub fn as_user<'a>(cmd: &'a mut Command, uid: u32, groups: &[u32]) -> &'a mut Command {
    let groups: Vec<libc::gid_t> = groups.to_vec();
    // SAFETY: between fork and exec only async-signal-safe calls are made (setgroups, setgid,
    // setuid, prctl), on data copied before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(uid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setuid(0) == 0 {
                return Err(std::io::Error::from_raw_os_error(libc::EPERM));
            }
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            Ok(())
        })
    }
}

/// A started program whose stdout lines arrive on a channel.
pub struct Proc {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Proc {
    /// Start `cmd` as `uid` in `dir` with stdout piped (stdin piped when `stdin`).
    pub fn start(
        mut cmd: Command,
        uid: u32,
        groups: &[u32],
        dir: &Path,
        stdin: bool,
    ) -> Result<Proc, String> {
        as_user(&mut cmd, uid, groups)
            .current_dir(dir)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
        let (tx, rx) = channel();
        if let Some(out) = child.stdout.take() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        if let Some(err) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if tx.send(format!("[stderr] {line}")).is_err() {
                        break;
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        Ok(Proc {
            child,
            stdin,
            lines: rx,
            seen: Vec::new(),
        })
    }

    /// Wait for a line containing `needle` (deadline READY_TIMEOUT).
    pub fn wait_line(&mut self, needle: &str) -> Result<String, String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return Ok(line);
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "no line containing {needle:?} within {READY_TIMEOUT:?}; saw {:?}",
                        self.seen
                    ));
                }
            }
        }
    }

    /// Every line seen so far, including those not waited for.
    pub fn drain(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    pub fn write(&mut self, text: &str) -> Result<(), String> {
        let w = self.stdin.as_mut().ok_or("stdin is not a pipe")?;
        w.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        w.flush().map_err(|e| e.to_string())
    }

    /// Wait (bounded) for the exit; returns the code and every stdout line.
    pub fn finish(mut self) -> Result<(i32, Vec<String>), String> {
        drop(self.stdin.take());
        let deadline = Instant::now() + RUN_TIMEOUT;
        // The reader threads end at EOF, which comes when the program (and its children) exit.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(format!(
                        "still running after {RUN_TIMEOUT:?}; saw {:?}",
                        self.seen
                    ));
                }
            }
        }
        let status = self.child.wait().map_err(|e| e.to_string())?;
        Ok((status.code().unwrap_or(-1), self.seen))
    }

    /// SIGTERM, then a bounded wait, then SIGKILL.
    pub fn stop(self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let mut child = self.child;
        let (tx, rx) = channel();
        let lines = self.lines;
        std::thread::spawn(move || {
            while lines.recv().is_ok() {}
            let _ = tx.send(());
        });
        if rx.recv_timeout(Duration::from_secs(5)).is_err() {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

/// Run a tool to its end as `uid`.
pub fn run_tool(
    bins: &Bins,
    run: &Run,
    uid: u32,
    groups: &[u32],
    tool: &str,
    args: &[&str],
) -> Result<(i32, Vec<String>), String> {
    let mut cmd = Command::new(bins.tool(tool));
    cmd.args(args);
    Proc::start(cmd, uid, groups, run.path(), false)?.finish()
}

/// The launcher with this submission's servers, as the owner, ready once fsd listens.
pub fn start_deputy(bins: &Bins, run: &Run) -> Result<Proc, String> {
    let mut cmd = Command::new(bins.tool("deputy-launch"));
    cmd.arg("--permd")
        .arg(&bins.permd)
        .arg("--fsd")
        .arg(&bins.fsd)
        .args([
            "--reader",
            &OWNER.to_string(),
            "--reader",
            &GARFIELD.to_string(),
        ]);
    let mut p = Proc::start(cmd, OWNER, &[], run.path(), true)?;
    p.wait_line("fsd: listening")?;
    Ok(p)
}

fn garfield() -> (u32, &'static [u32]) {
    (GARFIELD, &[USERS_GID])
}

/// An attack's exit code and verdict line: Ok when REFUSED (exit 1), Err otherwise.
fn refused(what: &str, code: i32, lines: &[String], run: &Run) -> Result<(), String> {
    let all = lines.join("\n");
    match code {
        1 if !all.contains(&run.secret) && !all.contains(&run.treasure) => Ok(()),
        1 => Err(format!(
            "{what}: REFUSED, but the output holds a fixture's bytes: {all}"
        )),
        0 => Err(format!("{FLAW}{what}: the attack SUCCEEDED: {all}")),
        c => Err(format!("{what}: exit {c}, not a verdict: {all}")),
    }
}

/// For a starter run: the stolen bytes really are the fixture's (checked with --show).
fn stolen(lines: &[String], expected: &str) -> bool {
    lines.iter().any(|l| l.contains(expected))
}

// ------------------------------------------------------------------ the checks

pub fn authorised_read(bins: &Bins) -> Result<(), String> {
    let run = Run::new()?;
    let d = start_deputy(bins, &run)?;
    let (uid, groups) = garfield();
    let got = run_tool(
        bins,
        &run,
        uid,
        groups,
        "deputy-client",
        &["read", "treasure.txt"],
    );
    d.stop();
    let (code, lines) = got?;
    if code == 0 && lines.first().map(String::as_str) == Some(run.treasure.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "garfield's read of treasure.txt: exit {code}, output {lines:?}"
        ))
    }
}

pub fn unauthorised_refused(bins: &Bins) -> Result<(), String> {
    let run = Run::new()?;
    let d = start_deputy(bins, &run)?;
    let got = run_tool(
        bins,
        &run,
        MALLORY,
        &[],
        "deputy-client",
        &["read", "treasure.txt"],
    );
    d.stop();
    let (code, lines) = got?;
    let all = lines.join("\n");
    if code == 1 && all.starts_with("DENIED") && !all.contains(&run.treasure) {
        Ok(())
    } else {
        Err(format!(
            "mallory's read of treasure.txt: exit {code}, output {all:?}"
        ))
    }
}

fn simple_attack(bins: &Bins, which: &str, expected: fn(&Run) -> &str) -> Result<(), String> {
    let run = Run::new()?;
    let d = start_deputy(bins, &run)?;
    let (uid, groups) = garfield();
    let got = run_tool(bins, &run, uid, groups, "deputy-attack", &[which, "--show"]);
    d.stop();
    let (code, lines) = got?;
    if code == 0 && !stolen(&lines, expected(&run)) {
        return Err(format!(
            "{which}: SUCCEEDED but without this run's bytes: {lines:?}"
        ));
    }
    refused(which, code, &lines, &run)
}

pub fn attack_confused(bins: &Bins) -> Result<(), String> {
    simple_attack(bins, "confused", |r| &r.secret)
}

pub fn attack_symlink(bins: &Bins) -> Result<(), String> {
    simple_attack(bins, "symlink", |r| &r.secret)
}

pub fn attack_stale(bins: &Bins) -> Result<(), String> {
    let run = Run::new()?;
    let d = start_deputy(bins, &run)?;
    let handoff = run.path().join("handoff.sock");
    let handoff = handoff.to_string_lossy().into_owned();
    let result = (|| {
        let mut cmd = Command::new(bins.tool("deputy-attack"));
        cmd.args(["stale-lend", "--handoff", &handoff]);
        let mut lender = Proc::start(cmd, OWNER, &[], run.path(), false)?;
        lender.wait_line("ready:")?;
        let got = run_tool(
            bins,
            &run,
            MALLORY,
            &[],
            "deputy-attack",
            &["stale", "--handoff", &handoff, "--show"],
        );
        let lent = lender.finish();
        let (code, lines) = got?;
        let (lcode, llines) = lent?;
        if lcode != 0 {
            return Err(format!("the lender failed: {llines:?}"));
        }
        if code == 0 && !stolen(&lines, &run.treasure) {
            return Err(format!(
                "stale: SUCCEEDED without this run's bytes: {lines:?}"
            ));
        }
        refused("stale", code, &lines, &run)
    })();
    d.stop();
    result
}

pub fn attack_impostor(bins: &Bins) -> Result<(), String> {
    let run = Run::new()?;
    let mut cmd = Command::new(bins.tool("deputy-attack"));
    cmd.args(["impostor", "--show"]);
    let mut imp = Proc::start(cmd, MALLORY, &[], run.path(), false)?;
    imp.wait_line("listening on")?;
    let d = match start_deputy(bins, &run) {
        Ok(d) => d,
        Err(e) => {
            imp.stop();
            return Err(e);
        }
    };
    let got = imp.finish();
    d.stop();
    let (code, lines) = got?;
    if code == 0 && !stolen(&lines, &run.treasure) {
        return Err(format!(
            "impostor: SUCCEEDED without this run's bytes: {lines:?}"
        ));
    }
    refused("impostor", code, &lines, &run)
}

pub fn revocation(bins: &Bins) -> Result<(), String> {
    let run = Run::new()?;
    let mut d = start_deputy(bins, &run)?;
    let result = (|| {
        let (uid, groups) = garfield();
        let mut cmd = Command::new(bins.tool("deputy-client"));
        cmd.args(["read", "treasure.txt", "--twice"]);
        let mut c = Proc::start(cmd, uid, groups, run.path(), true)?;
        let first = c.wait_line("read 1:")?;
        if !first.contains("read 1: OK") {
            return Err(format!(
                "the first read, before the revocation, failed: {first}"
            ));
        }
        c.wait_line("waiting for a line")?;
        d.write(&format!("revoke {GARFIELD}\n"))?;
        let ack = d.wait_line(&format!("revoke {GARFIELD}:"))?;
        if !ack.contains(": OK") {
            return Err(format!("permd did not confirm the revocation: {ack}"));
        }
        c.write("\n")?;
        let (code, lines) = c.finish()?;
        let second = lines
            .iter()
            .find(|l| l.starts_with("read 2:"))
            .cloned()
            .unwrap_or_default();
        if code == 1 && second.starts_with("read 2: DENIED") {
            Ok(())
        } else {
            let flaw = if second.starts_with("read 2: OK") {
                FLAW
            } else {
                ""
            };
            Err(format!(
                "{flaw}after `revoke {GARFIELD}` the same process read again: {second:?} (exit {code})"
            ))
        }
    })();
    d.stop();
    result
}

pub fn forget_exited(bins: &Bins) -> Result<(), String> {
    let run = Run::new()?;
    let d = start_deputy(bins, &run)?;
    let result = (|| {
        let (uid, groups) = garfield();
        let (code, lines) = run_tool(
            bins,
            &run,
            uid,
            groups,
            "deputy-client",
            &["read", "treasure.txt"],
        )?;
        if code != 0 {
            return Err(format!("the read failed: {lines:?}"));
        }
        // The reader has exited and been reaped: its answer must be gone.
        let (code, lines) = run_tool(bins, &run, uid, groups, "deputy-client", &["cache"])?;
        match (code, lines.first().map(String::as_str)) {
            (0, Some("CACHE 0")) => Ok(()),
            (0, Some(l)) if l.starts_with("CACHE ") => Err(format!(
                "{FLAW}after the only reader exited, fsd says {l:?}, not `CACHE 0`"
            )),
            (_, Some(l)) => Err(format!("no `CACHE <n>` answer: {l:?} (exit {code})")),
            _ => Err(format!("no answer to CACHE: exit {code}")),
        }
    })();
    d.stop();
    result
}

/// PID reuse runs in a private PID namespace (pid_max 1000) driven by this test binary.
pub fn attack_pid_reuse(bins: &Bins) -> Result<(), String> {
    let run = Run::new()?;
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(std::env::current_exe().map_err(|e| e.to_string())?)
        .env(PIDNS_DRIVER, "1")
        .env("DEPUTY_PERMD", &bins.permd)
        .env("DEPUTY_FSD", &bins.fsd)
        .env("DEPUTY_TOOLS", &bins.tools)
        .env("DEPUTY_RUN", run.path())
        .env("DEPUTY_SECRET", &run.secret)
        .env("DEPUTY_TREASURE", &run.treasure)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run unshare: {e}"))?;
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let code = out.status.code().unwrap_or(-1);
    if code == 4 {
        return Err(format!("the attack was SKIPPED here: {lines:?}"));
    }
    if code == 0 && !stolen(&lines, &run.treasure) {
        return Err(format!(
            "pid-reuse: SUCCEEDED without this run's bytes: {lines:?}"
        ));
    }
    refused("pid-reuse", code, &lines, &run)
}

/// Can this process make PID namespaces with their own /proc and pid_max?
pub fn pid_namespaces_work() -> bool {
    Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "sh",
            "-c",
            "echo 1000 > /proc/sys/kernel/pid_max",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// PID 1 of a private namespace: shrink pid_max, start the deputy, let a victim read, then let
/// mallory land on the victim's PID. Exits with the attack's code; its lines go to stdout.
pub fn pidns_driver() -> ExitCode {
    match drive() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            println!("pidns driver: {e}");
            ExitCode::from(5)
        }
    }
}

fn drive() -> Result<u8, String> {
    let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    std::fs::write("/proc/sys/kernel/pid_max", "1000").map_err(|e| format!("pid_max: {e}"))?;
    // After a wrap pids restart at 300: make sure the victim's pid is above that.
    for _ in 0..400 {
        let mut c = Command::new("/bin/true")
            .spawn()
            .map_err(|e| e.to_string())?;
        let _ = c.wait();
        if c.id() >= 310 {
            break;
        }
    }
    let bins = Bins {
        permd: var("DEPUTY_PERMD")?.into(),
        fsd: var("DEPUTY_FSD")?.into(),
        tools: var("DEPUTY_TOOLS")?.into(),
    };
    // The caller's run directory, with its fixtures; the caller removes it.
    let run_dir = PathBuf::from(var("DEPUTY_RUN")?);
    let run = Run {
        path: run_dir.clone(),
        _dir: None,
        secret: var("DEPUTY_SECRET")?,
        treasure: var("DEPUTY_TREASURE")?,
    };
    let mut d = start_deputy(&bins, &run)?;
    let pid_file = run_dir.join("victim.pid");
    let result = (|| {
        let (uid, groups) = garfield();
        let mut cmd = Command::new(bins.tool("deputy-client"));
        cmd.args(["read", "treasure.txt", "--pid-file"])
            .arg(&pid_file);
        let (code, lines) = Proc::start(cmd, uid, groups, &run_dir, false)?.finish()?;
        if code != 0 || lines.first() != Some(&run.treasure) {
            return Err(format!("the victim's read failed: {lines:?}"));
        }
        let mut cmd = Command::new(bins.tool("deputy-attack"));
        cmd.args([
            "pid-reuse",
            "--deadline",
            "15",
            "--show",
            "--victim-pid-file",
        ])
        .arg(&pid_file);
        let (code, lines) = Proc::start(cmd, MALLORY, &[], &run_dir, false)?.finish()?;
        for l in &lines {
            println!("{l}");
        }
        if code == 3 {
            let listing: Vec<String> = std::fs::read_dir(&run_dir)
                .map(|r| {
                    r.filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_else(|e| vec![format!("cannot list: {e}")]);
            println!(
                "pidns driver: the run directory holds {listing:?}; the deputy said {:?}",
                d.drain()
            );
        }
        u8::try_from(code).map_err(|_| format!("the attack ended without an exit code: {lines:?}"))
    })();
    let result = result.map_err(|e| {
        let listing: Vec<String> = std::fs::read_dir(&run_dir)
            .map(|r| {
                r.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_else(|e| vec![format!("cannot list the run directory: {e}")]);
        format!(
            "{e}; the deputy said {:?}; the run directory holds {listing:?}",
            d.drain()
        )
    });
    d.stop();
    result
}

// ------------------------------------------------------------------ variants

/// One broken variant of the reference (labs/deputy/variants.toml).
#[derive(Debug, Clone, Deserialize)]
pub struct Variant {
    pub name: String,
    pub score: u32,
    pub section: String,
    pub loses: Vec<String>,
    pub edit: Vec<Edit>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Edit {
    pub file: String,
    #[serde(default)]
    pub find: Option<String>,
    #[serde(default)]
    pub replace: Option<String>,
    #[serde(default)]
    pub create: Option<String>,
}

#[derive(Debug, Deserialize)]
struct VariantFile {
    variant: Vec<Variant>,
}

pub fn variants() -> Vec<Variant> {
    let path = lab_dir().join("variants.toml");
    let text = std::fs::read_to_string(&path).expect("labs/deputy/variants.toml is readable");
    let file: VariantFile = toml::from_str(&text).expect("labs/deputy/variants.toml parses");
    file.variant
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_name() == "target" {
            continue;
        }
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

pub fn variants_name_real_checks() -> Result<(), Failed> {
    let lab = std::fs::read_to_string(lab_dir().join("lab.toml")).map_err(|e| e.to_string())?;
    let points = check_points()?;
    let total: u32 = points.values().sum();
    for v in variants() {
        let lost: u32 = v.loses.iter().filter_map(|l| points.get(l)).sum();
        if v.score != total - lost {
            return Err(format!(
                "variant {}: score {} but losing {:?} leaves {} of {total}",
                v.name,
                v.score,
                v.loses,
                total - lost
            )
            .into());
        }
        for l in &v.loses {
            if !CHECKS.iter().any(|c| c.id == l) || !lab.contains(&format!("id = \"{l}\"")) {
                return Err(format!(
                    "variant {}: {l} is not a check of lab.toml and the tests",
                    v.name
                )
                .into());
            }
        }
        let order: Vec<&str> = CHECKS
            .iter()
            .map(|c| c.id)
            .filter(|c| v.loses.iter().any(|l| l == c))
            .collect();
        if order != v.loses.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(format!(
                "variant {}: list `loses` in the order of the checks: {order:?}",
                v.name
            )
            .into());
        }
        // Every edit applies to the reference: a text to find that occurs exactly once, or a
        // file to create (labs.rs makes the variants from these edits).
        for e in &v.edit {
            match (&e.find, &e.replace, &e.create) {
                (Some(find), Some(_), None) => {
                    let file = lab_dir().join("reference").join(&e.file);
                    let text = std::fs::read_to_string(&file)
                        .map_err(|err| format!("variant {}: {}: {err}", v.name, e.file))?;
                    if text.matches(find.as_str()).count() != 1 {
                        return Err(format!(
                            "variant {}: {}: the text to find must occur exactly once: {find:?}",
                            v.name, e.file
                        )
                        .into());
                    }
                }
                (None, None, Some(_)) if !e.file.is_empty() => {}
                _ => {
                    return Err(format!(
                        "variant {}: {}: an edit needs find and replace, or create",
                        v.name, e.file
                    )
                    .into());
                }
            }
        }
        if !lab.contains(&format!("handout: {}", v.section)) {
            return Err(format!(
                "variant {}: no hint of lab.toml names (handout: {})",
                v.name, v.section
            )
            .into());
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ tool trials (no root)

fn tool_path(name: &str) -> &'static str {
    match name {
        "deputy-attack" => env!("CARGO_BIN_EXE_deputy-attack"),
        "deputy-client" => env!("CARGO_BIN_EXE_deputy-client"),
        _ => env!("CARGO_BIN_EXE_deputy-launch"),
    }
}

pub fn attack_without_fsd() -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = Command::new(tool_path("deputy-attack"))
        .args(["--deadline", "1", "--dir"])
        .arg(dir.path())
        .arg("confused")
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    if out.status.code() == Some(3)
        && text.starts_with("deputy-attack confused: FAILED TO RUN: cannot connect")
    {
        Ok(())
    } else {
        Err(format!(
            "expected exit 3 and FAILED TO RUN, got {:?}: {text}",
            out.status.code()
        )
        .into())
    }
}

pub fn bad_usage() -> Result<(), Failed> {
    for (tool, args) in [
        ("deputy-attack", &["no-such-attack"][..]),
        ("deputy-client", &[][..]),
        ("deputy-launch", &["--permd", "x"][..]),
    ] {
        let out = Command::new(tool_path(tool))
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.code() != Some(2) || out.stderr.is_empty() {
            return Err(format!(
                "{tool} {args:?}: expected exit 2 with a usage message, got {:?}",
                out.status.code()
            )
            .into());
        }
    }
    Ok(())
}

pub fn launcher_without_programs() -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = Command::new(tool_path("deputy-launch"))
        .args([
            "--permd",
            "/nonexistent/permd",
            "--fsd",
            "/nonexistent/fsd",
            "--dir",
        ])
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) && err.contains("cannot start permd (/nonexistent/permd)") {
        Ok(())
    } else {
        Err(format!(
            "expected exit 3 naming permd, got {:?}: {err}",
            out.status.code()
        )
        .into())
    }
}

// ------------------------------------------------------------------ handout consistency

fn handout_sections() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir(lab_dir().join("handout")) {
        for e in dir.filter_map(Result::ok) {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            out.extend(
                text.lines()
                    .filter_map(|l| l.strip_prefix("## "))
                    .map(str::to_string),
            );
        }
    }
    out
}

/// Every `(handout: X Title)` in lab.toml and `(handout: ...)` in the starter names a real
/// section heading.
pub fn hints_name_real_sections() -> Result<(), Failed> {
    let sections = handout_sections();
    let mut texts = vec![(
        "lab.toml".to_string(),
        std::fs::read_to_string(lab_dir().join("lab.toml")).map_err(|e| e.to_string())?,
    )];
    for f in [
        "starter/permd/src/main.rs",
        "starter/fsd/src/ask.rs",
        "starter/fsd/src/cache.rs",
        "starter/fsd/src/serve.rs",
        "starter/fsd/src/main.rs",
        "starter/Cargo.toml",
    ] {
        texts.push((
            f.to_string(),
            std::fs::read_to_string(lab_dir().join(f)).map_err(|e| format!("{f}: {e}"))?,
        ));
    }
    let mut bad = Vec::new();
    for (file, text) in &texts {
        for (i, _) in text.match_indices("(handout: ") {
            let rest = &text[i + "(handout: ".len()..];
            let Some(end) = rest.find(')') else { continue };
            for name in rest[..end].split(", ") {
                let whole_part = name.len() == 1
                    || name.chars().nth(1) == Some(' ')
                        && !name.chars().nth(2).is_some_and(|c| c.is_ascii_digit());
                let known = sections.iter().any(|s| s == name)
                    || (whole_part && name.chars().next().is_some_and(|c| c.is_ascii_digit()));
                if !known {
                    bad.push(format!(
                        "{file}: (handout: {name}) is not a section heading"
                    ));
                }
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n").into())
    }
}

/// Each check id of lab.toml and its points.
fn check_points() -> Result<HashMap<String, u32>, String> {
    #[derive(Deserialize)]
    struct Lab {
        checks: Vec<LabCheck>,
    }
    #[derive(Deserialize)]
    struct LabCheck {
        id: String,
        points: u32,
    }
    let text = std::fs::read_to_string(lab_dir().join("lab.toml")).map_err(|e| e.to_string())?;
    let lab: Lab = toml::from_str(&text).map_err(|e| format!("lab.toml: {e}"))?;
    Ok(lab.checks.into_iter().map(|c| (c.id, c.points)).collect())
}

/// The points table of handout 5.2 agrees with lab.toml's checks.
pub fn points_table_matches() -> Result<(), Failed> {
    #[derive(Deserialize)]
    struct Lab {
        checks: Vec<LabCheck>,
    }
    #[derive(Deserialize)]
    struct LabCheck {
        id: String,
        points: u32,
    }
    let lab: Lab = toml::from_str(
        &std::fs::read_to_string(lab_dir().join("lab.toml")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("lab.toml: {e}"))?;
    let table = std::fs::read_to_string(lab_dir().join("handout/5-grading.md"))
        .map_err(|e| e.to_string())?;
    let mut total = 0;
    for c in &lab.checks {
        total += c.points;
        let row = format!("| `{}` | {} |", c.id, c.points);
        if !table.contains(&row) {
            return Err(format!("handout 5.2 has no row starting {row}").into());
        }
    }
    if !table.contains(&format!("| total | {total} |")) {
        return Err(format!("handout 5.2's total is not {total}").into());
    }
    Ok(())
}

// ------------------------------------------------------------------ handout transcripts

/// One `$ ` command of a ```console block and the lines it should print.
struct Step {
    file: String,
    command: String,
    expect: Vec<String>,
    compare: bool,
}

fn console_steps(file: &str, compare: bool) -> Result<Vec<Step>, String> {
    let text = std::fs::read_to_string(lab_dir().join(file)).map_err(|e| format!("{file}: {e}"))?;
    let mut steps: Vec<Step> = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("```console\n") {
        let body = &rest[start + "```console\n".len()..];
        let end = body
            .find("```")
            .ok_or(format!("{file}: a console block is not closed"))?;
        for line in body[..end].lines() {
            if let Some(cmd) = line.strip_prefix("$ ") {
                steps.push(Step {
                    file: file.to_string(),
                    command: cmd.to_string(),
                    expect: Vec::new(),
                    compare,
                });
            } else if let Some(last) = steps.last_mut() {
                last.expect.push(line.to_string());
            }
        }
        rest = &body[end + 3..];
    }
    Ok(steps)
}

/// `<pid>` matches a number, `<lab>` a path; everything else literally.
fn line_matches(expected: &str, got: &str) -> bool {
    fn go(e: &str, g: &str) -> bool {
        if let Some(rest) = e.strip_prefix("<pid>") {
            let digits = g.chars().take_while(char::is_ascii_digit).count();
            return digits > 0 && go(rest, &g[digits..]);
        }
        if let Some(rest) = e.strip_prefix("<lab>") {
            return (1..=g.len())
                .any(|n| g.is_char_boundary(n) && !g[..n].contains(' ') && go(rest, &g[n..]));
        }
        match (e.chars().next(), g.chars().next()) {
            (None, None) => true,
            (Some(a), Some(b)) if a == b => go(&e[a.len_utf8()..], &g[b.len_utf8()..]),
            _ => false,
        }
    }
    go(expected, got)
}

/// Replay the handout's transcripts for one submission, in one bash session started in a copy of
/// the submission (with its built programs in target/release and the lab's tools on PATH).
fn replay(sub: &str, files: &[(&str, bool)]) -> Result<(), Failed> {
    let bins = submission(sub)?;
    let mut steps = Vec::new();
    for (f, compare) in files {
        steps.extend(console_steps(f, *compare)?);
    }
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let copy = work.path().join("sub");
    copy_tree(&lab_dir().join(sub), &copy).map_err(|e| e.to_string())?;
    let release = copy.join("target/release");
    std::fs::create_dir_all(&release).map_err(|e| e.to_string())?;
    for (p, from) in [("permd", &bins.permd), ("fsd", &bins.fsd)] {
        std::fs::copy(from, release.join(p)).map_err(|e| format!("copy {p}: {e}"))?;
    }
    let mut script = format!(
        "export PATH={}:$PATH\ncd {}\n",
        bins.tools.display(),
        copy.display()
    );
    for (i, s) in steps.iter().enumerate() {
        script.push_str(&format!("echo '@@STEP {i}'\n{} 2>&1\n", s.command));
    }
    script.push_str("echo '@@STEP end'\nkill $deputy 2>/dev/null; wait 2>/dev/null\ncd /; [ -n \"$lab\" ] && rm -rf \"$lab\"\n");
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("bash: {e}"))?;
    let mut out = String::new();
    let (tx, rx) = channel();
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(s) => out = s,
        Err(_) => {
            let _ = child.kill();
        }
    }
    let _ = child.wait();
    let mut got: HashMap<String, Vec<String>> = HashMap::new();
    let mut current = None;
    for line in out.lines() {
        if let Some(id) = line.strip_prefix("@@STEP ") {
            current = Some(id.to_string());
            got.entry(id.to_string()).or_default();
        } else if let Some(id) = &current {
            got.entry(id.clone()).or_default().push(line.to_string());
        }
    }
    let mut bad = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let lines = got.get(&i.to_string()).cloned().unwrap_or_default();
        if !s.compare {
            continue;
        }
        let ok = lines.len() == s.expect.len()
            && s.expect.iter().zip(&lines).all(|(e, g)| line_matches(e, g));
        if !ok {
            bad.push(format!(
                "{}: $ {}\n  expected {:?}\n  got      {:?}",
                s.file, s.command, s.expect, lines
            ));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n").into())
    }
}

/// README, Part 0 and Part 2 are runs of the starter.
pub fn replay_starter() -> Result<(), Failed> {
    replay(
        "starter",
        &[
            ("README.md", true),
            ("handout/0-setup.md", true),
            ("handout/2-the-attacks.md", true),
        ],
    )
}

/// Parts 3 and 4 are runs of the reference, in the setup of 0.2 (whose output is the starter's).
pub fn replay_reference() -> Result<(), Failed> {
    replay(
        "reference",
        &[
            ("handout/0-setup.md", false),
            ("handout/3-capabilities.md", true),
            ("handout/4-forgetting.md", true),
        ],
    )
}
