//! The cat under bad input: a 1 GiB stdin, NUL bytes, bytes that are not UTF-8, a 10,000-character
//! name, a directory, a FIFO in the litterbox, a symbolic-link loop, and `/dev/zero` reached
//! through the traversal. Each must end with one `MEOW` line or with bounded streaming, exit 0,
//! and never panic, all under a 256 MiB address-space limit set with `prlimit` (a cat that tried to
//! hold the gigabyte would die of it, not pass).
//!
//! A FIFO blocks the vulnerable cat by design: opening one waits for a writer. The test shows it
//! blocked in the kernel (not spinning), then gives it a writer and sees the text stream through.
//! In grading, the grader's deadline ends such a run and says it was blocked opening a FIFO.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The address space the cat may use in these tests.
const ADDRESS_SPACE: u64 = 256 << 20;
/// Generous: every case here ends in milliseconds; this only turns a hang into a failure.
const DEADLINE: Duration = Duration::from_secs(30);
/// Bytes of stdout kept; a streaming case reads this much and then hangs up.
const KEEP: usize = 1 << 20;

/// A temporary lab: `secret.txt` next to `litterbox/`.
struct Lab(tempfile::TempDir);

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir(dir.path().join("litterbox")).expect("litterbox");
        fs::write(dir.path().join("secret.txt"), "Hey! This is a secret!").expect("secret");
        Lab(dir)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.0.path().join(relative)
    }

    /// The cat, in the lab, with an empty environment and the address-space limit.
    fn start(&self, stdin: Stdio) -> Child {
        Command::new("prlimit")
            .arg(format!("--as={ADDRESS_SPACE}"))
            .arg("--")
            .arg(assert_cmd::cargo::cargo_bin!("cat-sandbox"))
            .current_dir(self.0.path())
            .env_clear()
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the cat under prlimit")
    }
}

/// How a run ended.
struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

impl Finished {
    /// Exit 0, no panic, and stdout one line starting with `MEOW `.
    fn assert_one_meow(&self, case: &str) -> String {
        assert!(
            self.status.success(),
            "{case}: {:?} {}",
            self.status,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{case}: {}", self.stderr);
        let text = String::from_utf8(self.stdout.clone()).expect("MEOW lines are UTF-8");
        assert!(text.starts_with("MEOW "), "{case}: {text:?}");
        assert_eq!(text.matches('\n').count(), 1, "{case}: one line: {text:?}");
        assert!(text.ends_with('\n'), "{case}: {text:?}");
        text
    }
}

/// Feeds `input` (then end of file) to a fresh cat and waits for it, bounded by DEADLINE.
fn run(lab: &Lab, input: impl Read + Send + 'static) -> Finished {
    let mut child = lab.start(Stdio::piped());
    let stdin = child.stdin.take().expect("stdin");
    thread::spawn(move || {
        let mut input = input;
        let mut stdin = stdin;
        // The cat may stop reading early (it reads at most 4097 bytes); a broken pipe then
        // ends the copy, which is what a writer of a gigabyte should see.
        let _ = std::io::copy(&mut input, &mut stdin);
    });
    finish(child)
}

/// Reads stdout (up to KEEP bytes, then hangs up) and stderr, and waits, bounded by DEADLINE.
fn finish(mut child: Child) -> Finished {
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = thread::spawn(move || {
        let mut kept = Vec::new();
        let _ = (&mut stdout).take(KEEP as u64).read_to_end(&mut kept);
        // Dropping the pipe here is the hang-up a streaming cat must take quietly.
        kept
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(DEADLINE) {
        Ok(status) => status.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("the cat did not finish within {DEADLINE:?}");
        }
    };
    Finished {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

#[test]
fn a_gigabyte_on_stdin_is_refused_after_4097_bytes() {
    let lab = Lab::new();
    let started = Instant::now();
    let finished = run(&lab, std::io::repeat(b'a').take(1 << 30));
    let line = finished.assert_one_meow("1 GiB of stdin");
    assert!(line.contains("4096"), "{line}");
    assert!(line.len() < 200, "the name is shortened: {line}");
    eprintln!("measured: 1 GiB stdin refused in {:?}", started.elapsed());
}

#[test]
fn nul_bytes_and_non_utf8_bytes_are_refused_on_one_line() {
    let lab = Lab::new();
    let nul = run(&lab, &b"tre\0asure.txt\n"[..]).assert_one_meow("NUL");
    assert!(nul.contains("NUL"), "{nul}");
    let latin1 = run(&lab, &b"tr\xe9sor.txt\n"[..]).assert_one_meow("non-UTF-8");
    assert!(latin1.contains("UTF-8"), "{latin1}");
}

#[test]
fn a_ten_thousand_character_name_is_refused_on_one_short_line() {
    let lab = Lab::new();
    let name = format!("{}\n", "n".repeat(10_000));
    let line = run(&lab, std::io::Cursor::new(name)).assert_one_meow("10,000 characters");
    assert!(line.len() < 200, "{line}");
}

#[test]
fn a_directory_is_refused() {
    let lab = Lab::new();
    fs::create_dir(lab.path("litterbox/box")).expect("mkdir");
    run(&lab, &b"box\n"[..]).assert_one_meow("a directory");
}

#[test]
fn a_symlink_loop_is_refused() {
    let lab = Lab::new();
    std::os::unix::fs::symlink("loop-b", lab.path("litterbox/loop-a")).expect("link");
    std::os::unix::fs::symlink("loop-a", lab.path("litterbox/loop-b")).expect("link");
    let line = run(&lab, &b"loop-a\n"[..]).assert_one_meow("a symlink loop");
    assert!(line.contains("symbolic links"), "{line}");
}

#[test]
fn dev_zero_through_the_traversal_streams_in_bounded_memory() {
    let lab = Lab::new();
    let name = format!("{}dev/zero\n", "../".repeat(12));
    let finished = run(&lab, std::io::Cursor::new(name));
    assert!(
        finished.status.success(),
        "{:?} {}",
        finished.status,
        finished.stderr
    );
    assert!(!finished.stderr.contains("panicked"), "{}", finished.stderr);
    assert_eq!(
        finished.stdout.len(),
        KEEP,
        "it streamed until the reader hung up"
    );
    assert!(finished.stdout.iter().all(|b| *b == 0));
}

/// Whether `pid` comes to wait in the kernel function (/proc/<pid>/wchan) named by one of `names`.
fn wait_for_kernel_wait(pid: u32, names: &[&str]) -> bool {
    let until = Instant::now() + DEADLINE;
    while Instant::now() < until {
        let wchan = fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if names.iter().any(|name| wchan.contains(name)) {
            return true;
        }
        // Polling the kernel's own account of the process, as the grader's readiness does.
        thread::sleep(Duration::from_millis(1));
    }
    false
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    rest.split_ascii_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_fifo_blocks_by_design_without_spinning_then_streams_its_writer() {
    let lab = Lab::new();
    let fifo = lab.path("litterbox/pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
    let mut child = lab.start(Stdio::piped());
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"pipe\n")
        .expect("name");
    let pid = child.id();
    // The kernel's name for "open() of a FIFO waiting for the other end".
    let blocked = wait_for_kernel_wait(pid, &["wait_for_partner", "fifo_open"]);
    assert!(blocked, "the cat should be blocked opening the FIFO");
    let before = cpu_ticks(pid);
    write_to(&fifo, b"streamed through a FIFO\n");
    let finished = finish(child);
    assert!(
        finished.status.success(),
        "{:?} {}",
        finished.status,
        finished.stderr
    );
    assert_eq!(finished.stdout, b"streamed through a FIFO\n");
    eprintln!(
        "measured: CPU ticks while blocked on the FIFO: {before} (10 ms each; a spinning cat would show hundreds)"
    );
}

fn write_to(fifo: &Path, bytes: &[u8]) {
    let mut writer = fs::OpenOptions::new()
        .write(true)
        .open(fifo)
        .expect("open the FIFO for writing");
    writer.write_all(bytes).expect("write");
}
