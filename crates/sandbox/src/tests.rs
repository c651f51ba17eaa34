//! Tests of the sandbox against real programs (`sh`, `cat`, `yes`, `sleep`, `env`, `id` play the
//! student). The tests never sleep: they wait on the run's own events. Timings are printed (run
//! with `--nocapture` to see them), never asserted.

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::*;
use crate::privilege;

/// Tests that run processes as `nobody` (or kill all of its processes) take this lock, so one
/// test's user sweep never kills another test's processes.
pub(crate) static NOBODY: Mutex<()> = Mutex::new(());

pub(crate) fn nobody_lock() -> MutexGuard<'static, ()> {
    NOBODY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn spec(program: &str, args: &[&str]) -> Spec {
    // Orphans come back to the test process only if it is a subreaper; idempotent.
    become_subreaper().expect("prctl");
    Spec {
        program: program.into(),
        args: args.iter().map(OsString::from).collect(),
        cwd: "/".into(),
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        stdin: Stdin::Null,
        identity: None,
        limits: Limits {
            cpu_seconds: 20,
            address_space: None,
            file_size: 1 << 20,
            processes: 10_000,
            open_files: 64,
        },
        deadline: Duration::from_secs(20),
        output_cap: 1 << 20,
        isolate_network: false,
        ready_fd: None,
    }
}

fn sh(script: &str) -> Spec {
    spec("/bin/sh", &["-c", script])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Processes still in the session of run `pid`.
fn left_in_session(pid: i32) -> Vec<i32> {
    procfs::all_pids()
        .into_iter()
        .filter(|p| procfs::stat(*p).is_some_and(|stat| stat.session == pid))
        .collect()
}

/// Whether `pid` (a `sleep` printed by a test script) is gone: no such process, or the pid now
/// belongs to something else (reused).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Err(_) => true,
        Ok(comm) => comm.trim() != "sleep",
    }
}

/// Pumps output until `needle` shows up on stdout (or the run ends or 10 s pass).
fn wait_for_stdout(run: &mut Running, needle: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    while !text(&run.output_so_far().stdout).contains(needle) {
        assert!(Instant::now() < until, "no {needle:?} on stdout");
        if let Some(ending) = run.watch(Duration::from_millis(5)) {
            panic!("ended ({ending:?}) before printing {needle:?}");
        }
    }
}

fn nobody() -> Identity {
    privilege::lookup("nobody").expect("user nobody exists")
}

#[test]
fn exit_codes_are_reported() {
    let started = Instant::now();
    let outcome = run(spec("/bin/true", &[])).expect("spawn");
    let wall = started.elapsed();
    assert_eq!(outcome.ending, Ending::Exited(0));
    eprintln!(
        "measured: spawn+finish of `true`: {:.2} ms (elapsed in outcome {:.2} ms)",
        wall.as_secs_f64() * 1e3,
        outcome.elapsed.as_secs_f64() * 1e3
    );
    assert_eq!(run(sh("exit 3")).expect("spawn").ending, Ending::Exited(3));
}

#[test]
fn death_by_signal_is_reported() {
    let outcome = run(sh("kill -TERM $$")).expect("spawn");
    assert_eq!(outcome.ending, Ending::Signaled(Signal::SIGTERM));
}

#[test]
fn stdin_bytes_round_trip_through_cat() {
    // Several times a pipe's capacity, so the feeding must follow the child's reading.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut spec = spec("/bin/cat", &[]);
    spec.stdin = Stdin::Bytes(bytes.clone());
    let outcome = run(spec).expect("spawn");
    assert_eq!(outcome.ending, Ending::Exited(0));
    assert!(!outcome.output.stdout_truncated);
    assert!(outcome.output.stdout == bytes, "stdout differs from stdin");
}

#[test]
fn empty_and_null_stdin_are_end_of_file() {
    let mut with_bytes = spec("/bin/cat", &[]);
    with_bytes.stdin = Stdin::Bytes(Vec::new());
    for spec in [with_bytes, spec("/bin/cat", &[])] {
        let outcome = run(spec).expect("spawn");
        assert_eq!(outcome.ending, Ending::Exited(0));
        assert!(outcome.output.stdout.is_empty());
    }
}

#[test]
fn endless_output_is_capped_and_the_deadline_holds() {
    let mut spec = spec("/usr/bin/yes", &[]);
    spec.output_cap = 1000;
    spec.deadline = Duration::from_millis(300);
    let outcome = run(spec).expect("spawn");
    assert_eq!(outcome.ending, Ending::TimedOut);
    assert_eq!(outcome.output.stdout.len(), 1000);
    assert!(outcome.output.stdout_truncated);
    assert!(!outcome.output.stderr_truncated);
    eprintln!(
        "measured: `yes` with a 300 ms deadline ended after {:.1} ms",
        outcome.elapsed.as_secs_f64() * 1e3
    );
}

#[test]
fn output_past_the_cap_is_read_so_the_program_finishes() {
    let mut spec = spec("/usr/bin/head", &["-c", "1000000", "/dev/zero"]);
    spec.output_cap = 1000;
    let outcome = run(spec).expect("spawn");
    assert_eq!(outcome.ending, Ending::Exited(0));
    assert_eq!(outcome.output.stdout.len(), 1000);
    assert!(outcome.output.stdout_truncated);
}

#[test]
fn deadline_kills_a_sleeper() {
    let mut spec = spec("/bin/sleep", &["1000"]);
    spec.deadline = Duration::from_millis(200);
    let running = Running::spawn(spec).expect("spawn");
    let pid = running.pid();
    let outcome = running.finish();
    assert_eq!(outcome.ending, Ending::TimedOut);
    assert!(outcome.elapsed >= Duration::from_millis(200));
    assert!(gone(pid));
    eprintln!(
        "measured: deadline overshoot: {:.2} ms",
        (outcome.elapsed.as_secs_f64() - 0.2) * 1e3
    );
}

#[test]
fn a_grandchild_holding_stdout_and_ignoring_term_does_not_hold_up_finish() {
    let running =
        Running::spawn(sh("trap '' TERM; (sleep 1000 & echo $!); echo hi")).expect("spawn");
    let pid = running.pid();
    let started = Instant::now();
    let outcome = running.finish();
    let out = text(&outcome.output.stdout);
    let grandchild: i32 = out
        .lines()
        .next()
        .and_then(|l| l.parse().ok())
        .expect("pid line");
    assert_eq!(outcome.ending, Ending::Exited(0));
    assert!(out.ends_with("hi\n"), "{out}");
    assert!(gone(grandchild), "grandchild {grandchild} still there");
    assert_eq!(left_in_session(pid), Vec::<i32>::new());
    eprintln!(
        "measured: finish with a lingering grandchild took {:.2} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}

#[test]
fn a_grandchild_that_leaves_the_session_is_still_killed() {
    let outcome = run(sh("setsid sleep 1000 & echo $!")).expect("spawn");
    let escaped: i32 = text(&outcome.output.stdout).trim().parse().expect("pid");
    assert_eq!(outcome.ending, Ending::Exited(0));
    assert!(gone(escaped), "escaped {escaped} still there");
}

#[test]
fn an_escapee_of_a_timed_out_run_is_killed() {
    let mut spec = sh("setsid sleep 1000 & echo $!; exec sleep 1000");
    spec.deadline = Duration::from_millis(300);
    let outcome = run(spec).expect("spawn");
    let escaped: i32 = text(&outcome.output.stdout).trim().parse().expect("pid");
    assert_eq!(outcome.ending, Ending::TimedOut);
    assert!(gone(escaped), "escaped {escaped} still there");
}

#[test]
fn dropping_a_run_kills_everything() {
    let mut running = Running::spawn(sh("sleep 1000 & echo $!; sleep 1000")).expect("spawn");
    let pid = running.pid();
    wait_for_stdout(&mut running, "\n");
    let child: i32 = text(&running.output_so_far().stdout)
        .trim()
        .parse()
        .expect("pid");
    drop(running);
    assert!(gone(child));
    assert_eq!(left_in_session(pid), Vec::<i32>::new());
    assert!(procfs::stat(pid).is_none_or(|stat| stat.session != pid));
}

const TRAPS: &str =
    "trap 'echo u; exit 0' USR1; trap 'exit 1' INT; echo ready; while :; do sleep 1; done";

#[test]
fn readiness_is_seen_in_sigcgt_and_the_signal_is_handled() {
    for (signal, code, out) in [
        (Signal::SIGUSR1, 0, "ready\nu\n"),
        (Signal::SIGINT, 1, "ready\n"),
    ] {
        let mut running = Running::spawn(sh(TRAPS)).expect("spawn");
        let asked = Instant::now();
        let readiness =
            running.wait_for_caught(&[Signal::SIGINT, Signal::SIGUSR1], Duration::from_secs(5));
        let waited = asked.elapsed();
        let Readiness::Ready { after } = readiness else {
            panic!("not ready: {readiness:?}");
        };
        eprintln!(
            "measured: handlers seen {:.2} ms after spawn ({:.2} ms in wait_for_caught)",
            after.as_secs_f64() * 1e3,
            waited.as_secs_f64() * 1e3
        );
        running.signal(signal).expect("signal");
        let outcome = running.finish_within(Duration::from_secs(5));
        assert_eq!(outcome.ending, Ending::Exited(code), "{signal:?}");
        assert_eq!(text(&outcome.output.stdout), out);
    }
}

#[test]
fn a_program_without_handlers_is_not_ready_and_ignored_signals_are_named() {
    let mut running = Running::spawn(sh("trap '' USR1; echo x; exec sleep 1000")).expect("spawn");
    let readiness = running.wait_for_caught(
        &[Signal::SIGUSR1, Signal::SIGINT],
        Duration::from_millis(200),
    );
    assert_eq!(
        readiness,
        Readiness::NotReady {
            caught: vec![],
            ignored: vec![Signal::SIGUSR1]
        }
    );
    let cpu = running.cpu_time().expect("still running");
    eprintln!("measured: CPU time of a waiting `sleep`: {cpu:?}");
    running.signal(Signal::SIGTERM).expect("signal");
    assert_eq!(running.finish().ending, Ending::Signaled(Signal::SIGTERM));
}

#[test]
fn readiness_reports_an_early_end() {
    let mut running = Running::spawn(sh("exit 7")).expect("spawn");
    let readiness = running.wait_for_caught(&[Signal::SIGUSR1], Duration::from_secs(5));
    assert_eq!(readiness, Readiness::Ended(Ending::Exited(7)));
    assert!(running.signal(Signal::SIGUSR1).is_err());
    assert_eq!(running.cpu_time(), None);
    assert_eq!(running.finish().ending, Ending::Exited(7));
}

#[test]
fn watch_returns_the_ending_or_nothing() {
    let mut spec = sh("read line; exit 4");
    spec.stdin = Stdin::Bytes(b"go\n".to_vec());
    let mut running = Running::spawn(spec).expect("spawn");
    assert_eq!(
        running.watch(Duration::from_secs(5)),
        Some(Ending::Exited(4))
    );

    let mut sleeper = Running::spawn(spec_sleep()).expect("spawn");
    assert_eq!(sleeper.watch(Duration::from_millis(20)), None);
    let busy = Running::spawn(sh("while :; do :; done")).expect("spawn");
    let mut busy = busy;
    assert_eq!(busy.watch(Duration::from_millis(200)), None);
    eprintln!(
        "measured: CPU after 200 ms: busy loop {:?}, sleep {:?}",
        busy.cpu_time(),
        sleeper.cpu_time()
    );
}

fn spec_sleep() -> Spec {
    spec("/bin/sleep", &["1000"])
}

#[test]
fn the_environment_is_only_what_the_spec_gives() {
    let mut spec = spec("/usr/bin/env", &[]);
    spec.env = vec![("ONLY".into(), "this".into())];
    let outcome = run(spec).expect("spawn");
    assert_eq!(text(&outcome.output.stdout), "ONLY=this\n");
}

#[test]
fn spawn_failures_say_what_failed() {
    let missing = run(spec("/no/such/program", &[])).expect_err("no program");
    assert!(matches!(missing, SandboxError::Spawn { .. }), "{missing}");

    let mut bad_cwd = spec("/bin/true", &[]);
    bad_cwd.cwd = "/no/such/dir".into();
    let error = run(bad_cwd).expect_err("no dir").to_string();
    assert!(error.contains("chdir"), "{error}");

    let mut as_root = spec("/bin/true", &[]);
    as_root.identity = privilege::lookup("root");
    let error = run(as_root).expect_err("root refused").to_string();
    assert!(error.contains("refusing"), "{error}");
}

#[test]
fn network_isolation_is_checked_once() {
    let first = network_isolation_available();
    assert_eq!(first, network_isolation_available());
    eprintln!("measured: network isolation available: {first}");
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn root_drop_to_nobody_is_real() {
    let _lock = nobody_lock();
    let mut spec = sh("id -u; id -g; grep -E '^(Groups|NoNewPrivs):' /proc/self/status");
    spec.identity = Some(nobody());
    let outcome = run(spec).expect("spawn");
    let out = text(&outcome.output.stdout);
    assert_eq!(outcome.ending, Ending::Exited(0), "{out}");
    assert!(out.starts_with("65534\n65534\n"), "{out}");
    assert!(out.contains("Groups:\t65534 \n"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1\n"), "{out}");
}

/// The soft and hard values of one line of /proc/<pid>/limits.
fn limit_line<'a>(limits: &'a str, name: &str) -> Vec<&'a str> {
    let line = limits
        .lines()
        .find(|line| line.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {limits}"));
    line[name.len()..].split_whitespace().take(2).collect()
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn root_rlimits_are_applied() {
    let _lock = nobody_lock();
    let mut spec = spec("/bin/cat", &["/proc/self/limits"]);
    spec.identity = Some(nobody());
    spec.limits = Limits {
        cpu_seconds: 7,
        address_space: Some(1 << 30),
        file_size: 1 << 20,
        processes: 50,
        open_files: 32,
    };
    let outcome = run(spec).expect("spawn");
    let limits = text(&outcome.output.stdout);
    assert_eq!(outcome.ending, Ending::Exited(0), "{limits}");
    assert_eq!(limit_line(&limits, "Max cpu time"), ["7", "8"]);
    assert_eq!(limit_line(&limits, "Max file size"), ["1048576"; 2]);
    assert_eq!(limit_line(&limits, "Max processes"), ["50"; 2]);
    assert_eq!(limit_line(&limits, "Max open files"), ["32"; 2]);
    assert_eq!(limit_line(&limits, "Max address space"), ["1073741824"; 2]);
    assert_eq!(limit_line(&limits, "Max core file size"), ["0"; 2]);
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn root_isolated_network_has_only_loopback() {
    // Root on a host (CI) can always make one; only a container without CAP_SYS_ADMIN cannot,
    // and there the grader says so in its report instead.
    assert!(
        network_isolation_available() || std::path::Path::new("/.dockerenv").exists(),
        "root outside a container must be able to make a network namespace"
    );
    if !network_isolation_available() {
        return;
    }
    let _lock = nobody_lock();
    let mut spec = spec("/bin/cat", &["/proc/net/dev"]);
    spec.identity = Some(nobody());
    spec.isolate_network = true;
    let outcome = run(spec).expect("spawn");
    let dev = text(&outcome.output.stdout);
    let interfaces: Vec<&str> = dev
        .lines()
        .filter_map(|line| Some(line.split_once(':')?.0.trim()))
        .collect();
    assert_eq!(interfaces, ["lo"], "{dev}");
}

/// Processes whose real, effective or saved uid is `uid`, zombies excluded.
fn live_processes_of(uid: u32) -> Vec<i32> {
    procfs::all_pids()
        .into_iter()
        .filter(|pid| {
            procfs::stat(*pid).is_some_and(|stat| !stat.is_dead())
                && procfs::status(*pid)
                    .and_then(|status| procfs::uids(&status))
                    .is_some_and(|ids| ids[..3].contains(&uid))
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn root_kill_all_of_user_leaves_none() {
    let _lock = nobody_lock();
    assert!(kill_all_of_user(0).is_err());
    let mut spec = sh("setsid sleep 1000 & sleep 1000 & echo started; wait");
    spec.identity = Some(nobody());
    let mut running = Running::spawn(spec).expect("spawn");
    wait_for_stdout(&mut running, "started");
    let started = Instant::now();
    let killed = kill_all_of_user(65534).expect("kill");
    eprintln!(
        "measured: kill_all_of_user killed {killed} in {:.2} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    assert!(killed >= 3, "killed {killed}");
    assert_eq!(live_processes_of(65534), Vec::<i32>::new());
    assert_eq!(running.finish().ending, Ending::Signaled(Signal::SIGKILL));
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn root_an_escapee_of_a_dedicated_user_is_killed_at_finish() {
    let _lock = nobody_lock();
    let mut spec = sh("setsid sleep 1000 & echo $!");
    spec.identity = Some(nobody());
    let outcome = run(spec).expect("spawn");
    let escaped: i32 = text(&outcome.output.stdout).trim().parse().expect("pid");
    assert_eq!(outcome.ending, Ending::Exited(0));
    assert!(gone(escaped));
    assert_eq!(live_processes_of(65534), Vec::<i32>::new());
}

/// Starts a run whose orphaned grandchild (same session) and main process keep running, and
/// returns it with the grandchild's pid once both exist.
fn long_run_with_orphan(identity: Option<Identity>) -> (Running, i32) {
    let mut spec = sh("(sleep 1000 & echo $!); echo ready; exec sleep 1000");
    spec.identity = identity;
    let mut running = Running::spawn(spec).expect("spawn");
    wait_for_stdout(&mut running, "ready");
    let orphan = text(&running.output_so_far().stdout)
        .lines()
        .next()
        .and_then(|line| line.parse().ok())
        .expect("pid line");
    (running, orphan)
}

/// Runs `other` to its end while `long` is going, then checks `long` and its orphan survived.
fn other_run_spares(mut long: Running, orphan: i32, other: Spec) {
    let outcome = run(other).expect("spawn");
    assert_eq!(outcome.ending, Ending::Exited(0));
    assert!(!gone(orphan), "another run's sweep killed orphan {orphan}");
    assert_eq!(
        long.watch(Duration::ZERO),
        None,
        "another run's sweep killed the main"
    );
    long.signal(Signal::SIGTERM).expect("still there");
    assert_eq!(long.finish().ending, Ending::Signaled(Signal::SIGTERM));
    assert!(gone(orphan));
}

#[test]
fn a_sweep_spares_other_live_runs() {
    let (long, orphan) = long_run_with_orphan(None);
    other_run_spares(long, orphan, sh("setsid sleep 1000 & (sleep 1000 &)"));
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root (CI runs as root; or run the tests in the grader image)"
)]
fn root_a_user_sweep_spares_other_live_runs_of_that_user() {
    let _lock = nobody_lock();
    let (long, orphan) = long_run_with_orphan(Some(nobody()));
    let mut other = sh("setsid sleep 1000 & (sleep 1000 &)");
    other.identity = Some(nobody());
    other_run_spares(long, orphan, other);
    assert_eq!(live_processes_of(65534), Vec::<i32>::new());
}

#[test]
fn without_a_pidfd_exits_and_deadlines_are_still_seen() {
    // As on a kernel before 5.3: no process descriptor to poll.
    let mut running = Running::spawn(sh("echo a; exit 5")).expect("spawn");
    running.pidfd = None;
    let outcome = running.finish();
    assert_eq!(outcome.ending, Ending::Exited(5));
    assert_eq!(text(&outcome.output.stdout), "a\n");

    let mut spec = spec_sleep();
    spec.deadline = Duration::from_millis(100);
    let mut running = Running::spawn(spec).expect("spawn");
    running.pidfd = None;
    assert_eq!(running.finish().ending, Ending::TimedOut);
}

#[test]
fn watch_with_no_window_still_notices_an_exit() {
    let mut running = Running::spawn(sh("exit 2")).expect("spawn");
    // Block until it has exited, without reaping it: the zero-window watch must then see it.
    let flags = nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOWAIT;
    let pid = nix::unistd::Pid::from_raw(running.pid());
    nix::sys::wait::waitid(nix::sys::wait::Id::Pid(pid), flags).expect("waitid");
    assert_eq!(running.watch(Duration::ZERO), Some(Ending::Exited(2)));
}

/// Costs worth knowing, printed, never asserted: `cargo test -p grader measure_sandbox_costs --
/// --ignored --nocapture`.
#[test]
#[ignore = "measurement, not a check"]
fn measure_sandbox_costs() {
    let stats = |mut samples: Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        let max = samples[samples.len() - 1];
        format!(
            "median {median:.2} ms, max {max:.2} ms over {}",
            samples.len()
        )
    };
    let spawn_finish = (0..50)
        .map(|_| {
            let started = Instant::now();
            run(spec("/bin/true", &[])).expect("spawn");
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    eprintln!("spawn+finish of `true`: {}", stats(spawn_finish));
    let overshoot = (0..10)
        .map(|_| {
            let mut spec = spec_sleep();
            spec.deadline = Duration::from_millis(100);
            let started = Instant::now();
            let outcome = run(spec).expect("spawn");
            assert_eq!(outcome.ending, Ending::TimedOut);
            (started.elapsed().as_secs_f64() - 0.1) * 1e3
        })
        .collect();
    eprintln!(
        "deadline overshoot (until finish returns): {}",
        stats(overshoot)
    );
    let me = std::process::id() as i32;
    let looks = Instant::now();
    for _ in 0..1000 {
        let status = procfs::status(me).unwrap_or_default();
        assert!(procfs::signal_mask(&status, "SigCgt").is_some());
    }
    eprintln!(
        "one readiness look (read and parse SigCgt): {:.1} us",
        looks.elapsed().as_secs_f64() * 1e3
    );
    let ready = (0..20)
        .map(|_| {
            let mut running = Running::spawn(sh(TRAPS)).expect("spawn");
            let readiness = running.wait_for_caught(&[Signal::SIGUSR1], Duration::from_secs(5));
            let Readiness::Ready { after } = readiness else {
                panic!("{readiness:?}");
            };
            after.as_secs_f64() * 1e3
        })
        .collect();
    eprintln!("dash script ready (from spawn): {}", stats(ready));
    let sweep = Instant::now();
    let _ = sweep::sweep(sweep::Targets {
        run: None,
        uid: None,
        orphans: true,
        spare_other_runs: true,
        within: None,
    });
    eprintln!(
        "one sweep over {} processes: {:.2} ms",
        procfs::all_pids().len(),
        sweep.elapsed().as_secs_f64() * 1e3
    );
}

#[test]
fn a_run_killed_at_its_deadline_says_what_it_was_doing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let fifo = fifo.display().to_string();
    for (program, args, want) in [
        ("/bin/cat", vec![fifo.as_str()], Doing::OpeningFifo),
        ("/bin/sleep", vec!["1000"], Doing::Sleeping),
        ("/bin/sh", vec!["-c", "while :; do :; done"], Doing::Running),
    ] {
        let mut spec = spec(program, &args);
        spec.deadline = Duration::from_millis(300);
        let outcome = run(spec).expect("spawn");
        assert_eq!(outcome.ending, Ending::TimedOut);
        let activity = outcome.at_deadline.expect("looked at before the kill");
        assert_eq!(activity.doing(), want, "{program}: {activity:?}");
        eprintln!(
            "measured: {program} at its deadline: {}",
            activity.describe()
        );
    }
    let finished = run(spec("/bin/true", &[])).expect("spawn");
    assert_eq!(finished.at_deadline, None);
}
