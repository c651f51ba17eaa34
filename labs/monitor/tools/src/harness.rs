//! Running a submission's monitor from outside: a fresh directory per run with the IDL, the
//! policy, the solution and the clients' scripts; the monitor started as a child in its own
//! process group; a deadline; and, whatever happened, every process of the group killed at
//! the end so nothing outlives a check.
//!
//! This module must never wait without a deadline and never judge results (the checks do).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, PidfdFlags, Signal};

use crate::proto::solution::{ChannelSpec, ProgramSpec, Solution};
use crate::script::{self, Outcome, Step};

/// The lab's interface description.
pub const LAB_IDL: &str = include_str!("lab.idl");

/// How long a whole monitor run may take.
pub const RUN_DEADLINE: Duration = Duration::from_secs(20);

/// Where things are.
#[derive(Debug, Clone)]
pub struct Env {
    /// The monitor under test.
    pub monitor: PathBuf,
    /// Directory of the lab's tool binaries.
    pub tools: PathBuf,
    /// Scratch directory (the grader's {run}).
    pub dir: PathBuf,
    /// Per-run seed.
    pub seed: u64,
    /// A student program (server or client) for the checks that need one.
    pub program: Option<PathBuf>,
}

impl Env {
    /// A tool binary's path.
    pub fn tool(&self, name: &str) -> String {
        self.tools.join(name).display().to_string()
    }
}

/// A solution being put together.
#[derive(Debug)]
pub struct Setup {
    /// The run's directory.
    pub dir: PathBuf,
    /// Policy text.
    pub policy: String,
    /// Programs.
    pub programs: Vec<ProgramSpec>,
    /// Channels.
    pub channels: Vec<ChannelSpec>,
}

/// What a run left.
#[derive(Debug)]
pub struct Ran {
    /// The run's directory.
    pub dir: PathBuf,
    /// The monitor's stderr (for explanations).
    pub stderr: String,
}

impl Ran {
    /// A client's outcomes.
    pub fn outcomes(&self, client: &str) -> Result<Vec<Outcome>, String> {
        script::read_outcomes(&self.dir.join(format!("{client}.out"))).map_err(|e| {
            format!(
                "client {client} left no results ({e}); monitor stderr: {}",
                self.stderr.trim()
            )
        })
    }
    /// A JSON-lines file of the run (missing = empty).
    pub fn json_lines(&self, name: &str) -> Result<Vec<serde_json::Value>, String> {
        let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        text.lines()
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| format!("{name}: a line is not JSON ({e}): {l}"))
            })
            .collect()
    }
}

impl Setup {
    /// A fresh directory `env.dir/name`.
    pub fn new(env: &Env, name: &str) -> Result<Setup, String> {
        let dir = env.dir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Setup {
            dir,
            policy: String::new(),
            programs: Vec::new(),
            channels: Vec::new(),
        })
    }

    /// Adds the server program (named `server`).
    pub fn server(&mut self, command: Vec<String>) {
        self.programs.push(ProgramSpec {
            name: "server".into(),
            command,
            daemon: true,
            stdout: None,
            uid: None,
            gid: None,
        });
    }

    /// The path of a file in the run's directory.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// Adds a scripted client `name` with channel `srv-<name>` to the server.
    pub fn client(&mut self, env: &Env, name: &str, steps: &[Step]) -> Result<(), String> {
        self.client_only(env, name, steps)?;
        self.channel(&format!("srv-{name}"), name);
        Ok(())
    }

    /// Adds a scripted client `name` with no static channel.
    pub fn client_only(&mut self, env: &Env, name: &str, steps: &[Step]) -> Result<(), String> {
        let script: String = steps.iter().map(|s| s.to_line() + "\n").collect();
        let sp = self.dir.join(format!("{name}.script"));
        std::fs::write(&sp, script).map_err(|e| format!("{}: {e}", sp.display()))?;
        self.programs.push(ProgramSpec {
            name: name.into(),
            command: vec![
                env.tool("monitor-client"),
                "--script".into(),
                sp.display().to_string(),
                "--out".into(),
                self.path(&format!("{name}.out")),
                "--pid-file".into(),
                self.path(&format!("{name}.pid")),
            ],
            daemon: false,
            stdout: None,
            uid: None,
            gid: None,
        });
        Ok(())
    }

    /// Adds a channel from `client` to the server.
    pub fn channel(&mut self, name: &str, client: &str) {
        self.channels.push(ChannelSpec {
            name: name.into(),
            client: client.into(),
            server: "server".into(),
        });
    }

    /// Writes the files; returns the solution's path.
    pub fn write(&self) -> Result<PathBuf, String> {
        let w = |name: &str, text: &str| {
            std::fs::write(self.dir.join(name), text).map_err(|e| format!("{name}: {e}"))
        };
        w("lab.idl", LAB_IDL)?;
        w("policy.txt", &self.policy)?;
        let sol = Solution {
            idl: "lab.idl".into(),
            policy: "policy.txt".into(),
            audit: "audit.jsonl".into(),
            programs: self.programs.clone(),
            channels: self.channels.clone(),
            base: PathBuf::new(),
        };
        let text = serde_json::to_string_pretty(&sol).map_err(|e| e.to_string())?;
        w("solution.json", &text)?;
        Ok(self.dir.join("solution.json"))
    }

    /// Writes the files and runs the monitor to its end (or its deadline).
    pub fn run(&self, env: &Env) -> Result<Ran, String> {
        let sol = self.write()?;
        let mut child = start_monitor(&env.monitor, &sol, &self.dir)?;
        let pgid = Pid::from_child(&child);
        let ended = wait_deadline(&child, RUN_DEADLINE);
        let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
        let status = child.wait().map_err(|e| e.to_string())?;
        let stderr = std::fs::read_to_string(self.dir.join("monitor.err")).unwrap_or_default();
        if !ended {
            return Err(format!(
                "the monitor did not finish within {} s (a call that never returns?); its stderr: {}",
                RUN_DEADLINE.as_secs(),
                stderr.trim()
            ));
        }
        if !status.success() {
            return Err(format!(
                "the monitor exited with {status}; its stderr: {}",
                stderr.trim()
            ));
        }
        Ok(Ran {
            dir: self.dir.clone(),
            stderr,
        })
    }
}

/// Starts `monitor SOLUTION` in its own process group, output into `dir`.
pub fn start_monitor(
    monitor: &Path,
    sol: &Path,
    dir: &Path,
) -> Result<std::process::Child, String> {
    let out = std::fs::File::create(dir.join("monitor.out")).map_err(|e| e.to_string())?;
    let err = std::fs::File::create(dir.join("monitor.err")).map_err(|e| e.to_string())?;
    Command::new(monitor)
        .arg(sol)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start the monitor {}: {e} (did the build make it?)",
                monitor.display()
            )
        })
}

/// Waits for `child` to end, at most `limit`; true if it ended.
pub fn wait_deadline(child: &std::process::Child, limit: Duration) -> bool {
    let Ok(fd) = rustix::process::pidfd_open(Pid::from_child(child), PidfdFlags::empty()) else {
        return false;
    };
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ts = Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(0),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut p = [PollFd::new(&fd, PollFlags::IN)];
        match rustix::event::poll(&mut p, Some(&ts)) {
            Ok(n) if n > 0 => return true,
            Ok(_) => return false,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}
