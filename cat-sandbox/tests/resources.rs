//! Memory and termination under hostile streams: a 1 GiB stdin and an
//! endless `/dev/zero` reached through the traversal.
//!
//! Peak memory is read with `getrusage(RUSAGE_CHILDREN)`, which reports the
//! largest child a process has waited for. Other tests in this binary spawn
//! children too, so each measurement runs in a fresh copy of this test
//! binary (the ignored `peak_rss_helper` test) whose only child is the cat.
//! The helper prints `REPORT key=value` lines; the tests here judge them.

mod lab;

use std::collections::HashMap;
use std::env;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lab::Lab;
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const HELPER: &str = "peak_rss_helper";
const SCENARIO_VAR: &str = "CAT_SANDBOX_TEST_SCENARIO";
const LAB_VAR: &str = "CAT_SANDBOX_TEST_LAB";

const GIB: u64 = 1 << 30;
/// How much of `/dev/zero` to read before hanging up.
const ZERO_READ: u64 = 4 << 20;
/// The bound on the cat's peak resident set (a debug build sits near 2-3 MiB).
const RSS_LIMIT_KIB: i64 = 20 * 1024;
/// Only a guard against a hung cat, never a timing assertion.
const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn a_1_gib_stdin_is_refused_early_in_bounded_memory() {
    let report = measure("flood");
    assert_eq!(report["timed_out"], "false", "{report:?}");
    assert_eq!(report["code"], "0", "{report:?}");
    assert!(
        report["stdout"].starts_with("MEOW Name longer than 4096 bytes"),
        "{report:?}"
    );
    let fed: u64 = report["fed"].parse().expect("fed");
    // Only what fits in the pipe plus stdin's small read buffer.
    assert!(fed < 64 << 20, "the cat kept reading: {fed} bytes fed");
    let rss: i64 = report["rss_kib"].parse().expect("rss_kib");
    assert!(rss < RSS_LIMIT_KIB, "peak RSS {rss} KiB");
}

#[test]
fn dev_zero_through_the_traversal_streams_and_stops_on_hangup() {
    let report = measure("zero");
    assert_eq!(report["timed_out"], "false", "{report:?}");
    assert_eq!(report["read"], ZERO_READ.to_string(), "{report:?}");
    assert_eq!(report["all_zero"], "true", "{report:?}");
    // A closed pipe is a quiet, successful end.
    assert_eq!(report["code"], "0", "{report:?}");
    assert_eq!(report["stderr_bytes"], "0", "{report:?}");
    let rss: i64 = report["rss_kib"].parse().expect("rss_kib");
    assert!(rss < RSS_LIMIT_KIB, "peak RSS {rss} KiB");
}

/// Runs `scenario` in a fresh copy of this test binary and returns its
/// report.
fn measure(scenario: &str) -> HashMap<String, String> {
    let lab = Lab::new();
    let exe = env::current_exe().expect("own test binary");
    let output = Command::new(exe)
        .args([
            HELPER,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO_VAR, scenario)
        .env(LAB_VAR, lab.root())
        .stdin(Stdio::null())
        .output()
        .expect("start helper");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "helper failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: HashMap<String, String> = stdout
        .lines()
        // libtest may have started the line with `test peak_rss_helper ... `.
        .filter_map(|line| line.split_once("REPORT ").map(|(_, pair)| pair))
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    assert!(
        report.contains_key("rss_kib"),
        "no report from helper:\n{stdout}"
    );
    // Visible with --nocapture, so the measured numbers reach the log.
    println!("{scenario}: {report:?}");
    report
}

#[test]
#[ignore = "helper process for the resource tests, which start it themselves"]
fn peak_rss_helper() {
    let Ok(scenario) = env::var(SCENARIO_VAR) else {
        println!("{HELPER}: nothing to do unless started by a resource test");
        return;
    };
    let lab_dir = env::var_os(LAB_VAR).expect("lab directory");
    let lab = Path::new(&lab_dir);
    let started = Instant::now();
    let mut facts = match scenario.as_str() {
        "flood" => flood(lab),
        "zero" => zero(lab),
        other => panic!("unknown scenario {other}"),
    };
    let rss = getrusage(UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage")
        .max_rss();
    facts.push(("rss_kib", rss.to_string()));
    facts.push(("wall_ms", started.elapsed().as_millis().to_string()));
    for (key, value) in facts {
        println!("REPORT {key}={value}");
    }
}

/// What a scenario observed, as (key, value) pairs for the report.
type Facts = Vec<(&'static str, String)>;

/// Feeds up to 1 GiB of zero bytes and records what the cat did with it.
fn flood(lab: &Path) -> Facts {
    let mut child = cat_in(lab);
    let mut stdin = child.stdin.take().expect("stdin pipe");
    let feeder = thread::spawn(move || {
        let chunk = vec![0_u8; 64 * 1024];
        let mut fed = 0_u64;
        while fed < GIB {
            match stdin.write(&chunk) {
                Ok(written) => fed += written as u64,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                // EPIPE: the cat closed its end, which is what we hope for.
                Err(_) => break,
            }
        }
        fed
    });
    let (finished, timed_out) = supervise(child, |child| {
        let mut stdout = String::new();
        if let Some(mut pipe) = child.stdout.take() {
            pipe.read_to_string(&mut stdout).expect("read stdout");
        }
        stdout
    });
    let fed = feeder.join().expect("feeder thread");
    let (stdout, status) = finished;
    vec![
        ("timed_out", timed_out.to_string()),
        ("code", code(status)),
        ("fed", fed.to_string()),
        ("stdout", stdout.trim_end().to_owned()),
    ]
}

/// Asks for `/dev/zero` through `../`, reads a few MiB, then hangs up.
fn zero(lab: &Path) -> Facts {
    let mut child = cat_in(lab);
    let depth = lab.join("litterbox").components().count();
    let name = format!("{}dev/zero\n", "../".repeat(depth + 1));
    {
        let mut stdin = child.stdin.take().expect("stdin pipe");
        stdin.write_all(name.as_bytes()).expect("send name");
    }
    let (finished, timed_out) = supervise(child, |child| {
        let mut stdout = child.stdout.take().expect("stdout pipe");
        let mut buffer = vec![0_u8; 64 * 1024];
        let mut read = 0_u64;
        let mut all_zero = true;
        while read < ZERO_READ {
            let want = buffer.len().min((ZERO_READ - read) as usize);
            match stdout.read(&mut buffer[..want]) {
                Ok(0) => break,
                Ok(got) => {
                    all_zero &= buffer[..got].iter().all(|&byte| byte == 0);
                    read += got as u64;
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => panic!("read stdout: {error}"),
            }
        }
        drop(stdout); // the hang-up under test
        let mut stderr = Vec::new();
        if let Some(mut pipe) = child.stderr.take() {
            pipe.read_to_end(&mut stderr).expect("read stderr");
        }
        (read, all_zero, stderr.len())
    });
    let ((read, all_zero, stderr_bytes), status) = finished;
    vec![
        ("timed_out", timed_out.to_string()),
        ("code", code(status)),
        ("read", read.to_string()),
        ("all_zero", all_zero.to_string()),
        ("stderr_bytes", stderr_bytes.to_string()),
    ]
}

fn cat_in(lab: &Path) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin!("cat-sandbox"))
        .current_dir(lab)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cat-sandbox")
}

/// Runs `work` on the child and then waits for it, on a thread; if that
/// takes longer than [`DEADLINE`], the child is killed so the test reports
/// a hang instead of becoming one. Returns the work's result, the exit
/// status, and whether the deadline fired.
fn supervise<T: Send + 'static>(
    mut child: Child,
    work: impl FnOnce(&mut Child) -> T + Send + 'static,
) -> ((T, ExitStatus), bool) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
    let (done, finished) = mpsc::channel();
    let runner = thread::spawn(move || {
        let result = work(&mut child);
        let status = child.wait().expect("wait for cat-sandbox");
        // Ignoring a send error: the receiver only vanishes if the test
        // thread already panicked.
        let _ = done.send((result, status));
    });
    let (outcome, timed_out) = match finished.recv_timeout(DEADLINE) {
        Ok(outcome) => (outcome, false),
        Err(_) => {
            // No report yet means the runner is (almost surely) still before
            // its `wait`, so the pid still names our child; the only gap is
            // the instant between `wait` returning and `send`.
            let _ = kill(pid, Signal::SIGKILL);
            (finished.recv().expect("runner result after kill"), true)
        }
    };
    runner.join().expect("runner thread");
    (outcome, timed_out)
}

/// The exit code, or `signal:N` for a child killed by a signal.
fn code(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => code.to_string(),
        (None, Some(signal)) => format!("signal:{signal}"),
        (None, None) => status.to_string(),
    }
}
