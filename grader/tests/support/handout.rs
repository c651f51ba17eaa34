//! Reading the lab handout the way its tests need it, so that what the handout shows can be
//! replayed against the real programs and cannot drift from them.
//!
//! The handout is `labs/ipc/README.md` plus `labs/ipc/handout/*.md`. Its conventions:
//! - a ```` ```console ```` block is a transcript: lines starting with `$ ` are typed, the others
//!   are what appears. `<pid>` in output stands for a process id, and in a later command for the
//!   last one seen. Every such block is replayed in a fresh copy of a student's repository;
//! - an HTML comment `<!-- handout: WORDS -->` on the line before a fence says more about the
//!   block: `root` (replay as root, with the lab's users), `starter` (replay with the starter's
//!   programs instead of the reference solution's), `report` (an excerpt of the grader's report
//!   for the starter), `file PATH` (a whole file of the student's repository), `excerpt PATH`
//!   (lines quoted from a file of this repository);
//! - a hint or a TODO points at a section as `(handout: <heading>)` or `handout <heading>`.
//!
//! Nothing here writes outside the temporary directories it makes, and every shell it starts is
//! killed with its whole process group when the session ends.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use super::repo_root;

/// How long one transcript step may take to show its output; only reached when it is wrong.
const STEP_DEADLINE: Duration = Duration::from_secs(15);

/// The handout's files, index first, then the parts in name order.
pub fn files() -> Vec<PathBuf> {
    let dir = repo_root().join("labs/ipc");
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir.join("handout"))
        .expect("labs/ipc/handout exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    parts.sort();
    let mut all = vec![dir.join("README.md")];
    all.extend(parts);
    all
}

/// A path relative to the repository, for messages.
pub fn shown(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every heading of the handout (text after the `#`s), outside code blocks.
pub fn headings() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for file in files() {
        let mut fenced = false;
        for line in read(&file).lines() {
            if line.starts_with("```") {
                fenced = !fenced;
            } else if !fenced && line.starts_with('#') {
                found.insert(line.trim_start_matches('#').trim().to_string());
            }
        }
    }
    found
}

/// The sections a text points at with `(handout: <heading>)`.
pub fn references(text: &str) -> Vec<String> {
    let marker = "(handout: ";
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(marker) {
        let after = &rest[start + marker.len()..];
        let end = after.find(')').unwrap_or(after.len());
        found.push(after[..end].trim().to_string());
        rest = &after[end..];
    }
    found
}

/// One fenced block of the handout.
#[derive(Debug, Clone)]
pub struct Block {
    pub file: PathBuf,
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The fence's info string, e.g. `console` or `rust`.
    pub info: String,
    /// Words of the `<!-- handout: ... -->` comment just before the fence.
    pub marker: Vec<String>,
    pub body: String,
}

impl Block {
    pub fn has(&self, word: &str) -> bool {
        self.marker.iter().any(|w| w == word)
    }

    /// The path after `word` in the marker (`file PATH`, `excerpt PATH`).
    pub fn path_after(&self, word: &str) -> Option<&str> {
        let at = self.marker.iter().position(|w| w == word)?;
        self.marker.get(at + 1).map(String::as_str)
    }

    pub fn place(&self) -> String {
        format!("{}:{}", shown(&self.file), self.line)
    }
}

/// Every fenced block of every handout file.
pub fn blocks() -> Vec<Block> {
    let mut found = Vec::new();
    for file in files() {
        let text = read(&file);
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let Some(info) = lines[i].strip_prefix("```") else {
                i += 1;
                continue;
            };
            let marker = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| l.trim().strip_prefix("<!-- handout:"))
                .and_then(|l| l.strip_suffix("-->"))
                .map(|words| words.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            let start = i;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && !lines[i].starts_with("```") {
                body.push_str(lines[i]);
                body.push('\n');
                i += 1;
            }
            assert!(
                i < lines.len(),
                "{}:{}: unclosed ```",
                shown(&file),
                start + 1
            );
            found.push(Block {
                file: file.clone(),
                line: start + 1,
                info: info.trim().to_string(),
                marker,
                body,
            });
            i += 1;
        }
    }
    found
}

/// One typed command of a transcript and the lines shown after it.
#[derive(Debug, Clone)]
pub struct Step {
    pub command: String,
    pub expected: Vec<String>,
}

/// Splits a console block into steps. Output before the first command is a mistake.
pub fn steps(block: &Block) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in block.body.lines() {
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_string(),
                expected: Vec::new(),
            });
        } else {
            let step = steps
                .last_mut()
                .unwrap_or_else(|| panic!("{}: output before any `$ ` line", block.place()));
            step.expected.push(line.to_string());
        }
    }
    steps
}

/// Whether `actual` is `expected` with each `<pid>` standing for a number; returns the last one.
pub fn line_matches(expected: &str, actual: &str) -> Option<Option<String>> {
    let mut pieces = expected.split("<pid>");
    let first = pieces.next().unwrap_or_default();
    let mut rest = actual.strip_prefix(first)?;
    let mut pid = None;
    for piece in pieces {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return None;
        }
        pid = Some(rest[..digits].to_string());
        rest = rest[digits..].strip_prefix(piece)?;
    }
    rest.is_empty().then_some(pid)
}

/// Lines bash adds about its jobs (`[1]+  Done ...`, `bash: line 3:  4242 User defined
/// signal 1 ...`): they differ between an interactive shell and this replay, so the handout
/// leaves them out and says so.
fn is_job_report(line: &str) -> bool {
    line.starts_with("bash: line ") || (line.starts_with('[') && line.contains("]+ "))
}

/// A bash reading commands from a pipe, with stdout and stderr merged into one pipe.
#[derive(Debug)]
pub struct Session {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// The last `<pid>` seen in the output.
    pid: Option<String>,
    count: usize,
    /// Everything shown so far, for failure messages.
    log: Vec<String>,
}

impl Session {
    /// Starts bash in `dir` with a small, fixed environment; TMPDIR is `tmp`.
    pub fn start(dir: &Path, tmp: &Path) -> Session {
        let (reader, writer) = rustix::pipe::pipe().expect("pipe");
        let writer_again = writer.try_clone().expect("dup");
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc"])
            .current_dir(dir)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", tmp)
            .env("TMPDIR", tmp)
            .env("LANG", "C.UTF-8")
            .env("TERM", "dumb")
            .stdin(Stdio::piped())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(writer_again))
            .process_group(0)
            .spawn()
            .expect("start bash");
        let mut stdin = child.stdin.take().expect("piped stdin");
        // Job control, as in an interactive shell: without it bash starts background programs
        // with SIGINT ignored, and `kill -s INT` would not do what the handout says.
        writeln!(stdin, "set -m").expect("write to bash");
        let (send, lines) = channel();
        let reader = std::fs::File::from(reader);
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Session {
            child,
            stdin,
            lines,
            pid: None,
            count: 0,
            log: Vec::new(),
        }
    }

    /// Types one step and checks what appears, waiting for the shell to finish the command and
    /// for as many lines as the handout shows (a background program may print after that).
    pub fn run(&mut self, step: &Step) -> Result<(), String> {
        let command = match &self.pid {
            Some(pid) => step.command.replace("<pid>", pid),
            None if step.command.contains("<pid>") => {
                return Err(format!(
                    "`{}` uses <pid> before any was shown",
                    step.command
                ));
            }
            None => step.command.clone(),
        };
        self.count += 1;
        let done = format!("__handout_step_{}_done__", self.count);
        writeln!(self.stdin, "{command}\necho {done}").map_err(|e| format!("write: {e}"))?;
        self.stdin.flush().map_err(|e| format!("flush: {e}"))?;
        self.log.push(format!("$ {command}"));

        let deadline = Instant::now() + STEP_DEADLINE;
        let mut seen = Vec::new();
        let mut finished = false;
        while !finished || seen.len() < step.expected.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == done => finished = true,
                Ok(line) if is_job_report(&line) => {}
                Ok(line) => {
                    self.log.push(line.clone());
                    seen.push(line);
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let fits = seen.len() == step.expected.len()
            && step
                .expected
                .iter()
                .zip(&seen)
                .all(|(want, got)| line_matches(want, got).is_some());
        if !fits {
            return Err(format!(
                "after `$ {}`\nexpected:\n{}\nactual{}:\n{}\nwhole session:\n{}",
                step.command,
                step.expected.join("\n"),
                if finished {
                    ""
                } else {
                    " (command still running)"
                },
                seen.join("\n"),
                self.log.join("\n")
            ));
        }
        for (want, got) in step.expected.iter().zip(&seen) {
            if let Some(Some(pid)) = line_matches(want, got) {
                self.pid = Some(pid);
            }
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.wait();
    }
}

/// Which build of the two programs a transcript runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Programs {
    /// The repository's reference solution (`listener/`, `cat-sandbox/`).
    Reference,
    /// The student starter as it is handed out (`labs/ipc/starter/`).
    Starter,
}

/// Builds `programs` once per test process, offline, into a target directory of its own under
/// the temporary directory (kept between runs, so later builds are quick). Returns the directory
/// holding `listener` and `cat-sandbox`.
pub fn built(programs: Programs) -> PathBuf {
    static REFERENCE: OnceLock<PathBuf> = OnceLock::new();
    static STARTER: OnceLock<PathBuf> = OnceLock::new();
    let (cell, name, manifest, locked) = match programs {
        Programs::Reference => (
            &REFERENCE,
            "reference",
            repo_root().join("Cargo.toml"),
            false,
        ),
        Programs::Starter => (
            &STARTER,
            "starter",
            repo_root().join("labs/ipc/starter/Cargo.toml"),
            // The starter's Cargo.lock is handed out as it is: it must already be complete.
            true,
        ),
    };
    cell.get_or_init(|| {
        let target = std::env::temp_dir()
            .join("ipc-lab-handout-target")
            .join(name);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--offline", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .args(["--bin", "listener", "--bin", "cat-sandbox"])
            .env("CARGO_TARGET_DIR", &target);
        if locked {
            cmd.arg("--locked");
        }
        let out = cmd.output().expect("run cargo build");
        assert!(
            out.status.success(),
            "building the {name} programs failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("debug")
    })
    .clone()
}

/// A fresh copy of a student's repository after `cargo build`: the lab's files as the starter
/// holds them and the two programs in `target/debug/`. Everything is readable by every user (so
/// the lab's users can reach it), as in a fresh clone.
#[derive(Debug)]
pub struct Repo {
    pub root: tempfile::TempDir,
    pub dir: PathBuf,
    pub tmp: PathBuf,
}

impl Repo {
    pub fn new(programs: Programs) -> Repo {
        let bin = built(programs);
        let root = tempfile::Builder::new()
            .prefix("ipc-lab-handout-")
            .tempdir()
            .expect("tempdir");
        let dir = root.path().join("repo");
        let tmp = root.path().join("tmp");
        let starter = repo_root().join("labs/ipc/starter");
        std::fs::create_dir_all(dir.join("litterbox")).expect("mkdir");
        std::fs::create_dir_all(dir.join("target/debug")).expect("mkdir");
        std::fs::create_dir_all(&tmp).expect("mkdir");
        for file in ["secret.txt", "litterbox/treasure.txt", ".gitignore"] {
            std::fs::copy(starter.join(file), dir.join(file)).expect("copy a lab file");
        }
        for program in ["listener", "cat-sandbox"] {
            std::fs::copy(bin.join(program), dir.join("target/debug").join(program))
                .expect("copy a program");
        }
        for path in [root.path(), &dir, &tmp] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        Repo { root, dir, tmp }
    }
}

/// Checks that `excerpt` appears in `text`: its lines in order and adjacent, except that a line
/// `...` in the excerpt stands for any number of lines.
pub fn excerpt_in(excerpt: &str, text: &str) -> Result<(), String> {
    let have: Vec<&str> = text.lines().collect();
    let lines: Vec<&str> = excerpt.lines().collect();
    let mut at = 0;
    for want in lines.split(|l| l.trim() == "...") {
        if want.is_empty() {
            continue;
        }
        let found = (at..=have.len().saturating_sub(want.len()))
            .find(|&i| have[i..].starts_with(want))
            .ok_or_else(|| {
                format!(
                    "these lines are not in it, in this order after line {at}:\n{}",
                    want.join("\n")
                )
            })?;
        at = found + want.len();
    }
    Ok(())
}
