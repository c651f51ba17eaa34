//! Command lines of the lab's tool binaries: each `src/bin/<name>.rs` calls one function
//! here. Exit codes: 0 success (a check passed), 1 a check failed (the reason is on stdout),
//! 2 bad usage or a setup the tool cannot work with (the reason is on stderr).
//!
//! Nothing here may panic on bad input or run without a deadline.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::checks;
use crate::harness::Env;
use crate::oracle::Oracle;
use crate::proto::idl::Idl;
use crate::script;
use crate::server_app::{self, Config, Mode};

/// `monitor-client`: runs a script of calls through the channels its monitor gave it.
#[derive(Debug, Parser)]
#[command(name = "monitor-client")]
pub struct ClientArgs {
    /// The script (see the lab's handout, 2.1).
    #[arg(long)]
    pub script: PathBuf,
    /// Where to write one JSON outcome line per call.
    #[arg(long)]
    pub out: PathBuf,
    /// Write this process's pid here before the first call.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Per-call deadline in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
}

/// Entry of `monitor-client`.
pub fn client_main() -> ExitCode {
    let a = ClientArgs::parse();
    let go = || -> Result<(), String> {
        if let Some(p) = &a.pid_file {
            std::fs::write(p, std::process::id().to_string())
                .map_err(|e| format!("{}: {e}", p.display()))?;
        }
        let text = std::fs::read_to_string(&a.script)
            .map_err(|e| format!("{}: {e}", a.script.display()))?;
        let steps = script::parse(&text)?;
        let idl_path = std::env::var("IPCMON_IDL")
            .map_err(|_| "IPCMON_IDL is not set: start me through a monitor".to_owned())?;
        let idl = Idl::load(std::path::Path::new(&idl_path)).map_err(|e| e.to_string())?;
        script::run(&steps, &idl, &a.out, Duration::from_millis(a.timeout_ms))
    };
    match go() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("monitor-client: {e}");
            ExitCode::from(2)
        }
    }
}

/// `monitor-server` / `monitor-hostile`.
#[derive(Debug, Parser)]
pub struct ServerArgs {
    /// JSON-lines log of every request that arrives and every reply's outcome.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// FIFO to write `held` to when the first request arrives (with --hold-release).
    #[arg(long, requires = "hold_release")]
    pub hold_notify: Option<PathBuf>,
    /// FIFO to read from before answering the first request.
    #[arg(long, requires = "hold_notify")]
    pub hold_release: Option<PathBuf>,
}

/// Entry of `monitor-server` (honest) and `monitor-hostile`.
pub fn server_main(mode: Mode) -> ExitCode {
    let a = ServerArgs::parse();
    let cfg = Config {
        mode,
        log: a.log,
        hold: a.hold_notify.zip(a.hold_release),
    };
    match server_app::run(&cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("monitor-server: {e}");
            ExitCode::from(2)
        }
    }
}

/// Entry of `monitor-refmon`: the lab's own monitor (the model as a mediator).
pub fn refmon_main() -> ExitCode {
    crate::proto::kernel::main(&Oracle)
}

/// `monitor-check`: one of the lab's checks against a monitor.
#[derive(Debug, Parser)]
#[command(name = "monitor-check")]
pub struct CheckArgs {
    /// Which check: methods, corpus, matrix, audit, reply, forge, blocking, server, client, all.
    pub what: String,
    /// The monitor to test (the submission's build, or the lab's monitor-refmon).
    #[arg(long)]
    pub monitor: PathBuf,
    /// A scratch directory (the grader's {run}).
    #[arg(long)]
    pub dir: PathBuf,
    /// Seed of the random parts (the grader's {seed}).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory of the lab's tools (default: this program's directory).
    #[arg(long)]
    pub tools: Option<PathBuf>,
    /// The student's server (check `server`) or client (check `client`).
    #[arg(long)]
    pub program: Option<PathBuf>,
}

/// Entry of `monitor-check`.
pub fn check_main() -> ExitCode {
    let a = CheckArgs::parse();
    if rustix::process::geteuid().is_root() {
        eprintln!("monitor-check: refusing to run as root: run it as a lab user (the grader does)");
        return ExitCode::from(2);
    }
    let tools = match a.tools.or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from))
    }) {
        Some(t) => t,
        None => {
            eprintln!("monitor-check: cannot find the tools' directory: pass --tools");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&a.dir) {
        eprintln!("monitor-check: {}: {e}", a.dir.display());
        return ExitCode::from(2);
    }
    let env = Env {
        monitor: a.monitor,
        tools,
        dir: a.dir,
        seed: a.seed,
        program: a.program,
    };
    let names: Vec<&str> = if a.what == "all" {
        checks::ALL.to_vec()
    } else {
        vec![a.what.as_str()]
    };
    let mut failed = false;
    for name in names {
        match checks::run(name, &env) {
            None => {
                eprintln!(
                    "monitor-check: no check `{name}`; use one of {} or all",
                    checks::ALL.join(", ")
                );
                return ExitCode::from(2);
            }
            Some(Ok(summary)) => println!("PASS {name}: {summary}"),
            Some(Err(why)) => {
                failed = true;
                println!("FAIL {name}: {why}\n  (handout: {})", checks::section(name));
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
