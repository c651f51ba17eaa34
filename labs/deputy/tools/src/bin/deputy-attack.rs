//! `deputy-attack <which>`: run one attack on fsd and print a one-line verdict.
//!
//! Exit status: 0 SUCCEEDED (fsd sent bytes it should not have), 1 REFUSED, 2 bad usage,
//! 3 FAILED TO RUN, 4 SKIPPED (mechanism unavailable).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use deputy_tools::attack::{self, Target};
use deputy_tools::pidreuse::{self, Outcome};
use deputy_tools::verdict::Verdict;

#[derive(Debug, Parser)]
#[command(name = "deputy-attack")]
struct Args {
    /// The run directory (fsd.sock, litterbox/, secret.txt).
    #[arg(long, default_value = ".", global = true)]
    dir: PathBuf,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 10, global = true)]
    deadline: u64,
    /// After a SUCCEEDED verdict, print the bytes fsd sent.
    #[arg(long, global = true)]
    show: bool,
    #[command(subcommand)]
    which: Which,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// Confused deputy: ask for a file outside the litterbox (default ../secret.txt).
    Confused {
        #[arg(default_value = "../secret.txt")]
        name: String,
    },
    /// Confused deputy through a link planted in the litterbox (default target ../secret.txt).
    Symlink {
        #[arg(default_value = "../secret.txt")]
        target: String,
    },
    /// Stale credentials, owner's half: connect to fsd, then lend the connection at HANDOFF.
    StaleLend {
        #[arg(long)]
        handoff: PathBuf,
    },
    /// Stale credentials, attacker's half: borrow the connection at HANDOFF and ask for NAME.
    Stale {
        #[arg(long)]
        handoff: PathBuf,
        #[arg(default_value = "treasure.txt")]
        name: String,
    },
    /// Impostor manager: bind permd.sock first, say YES to everything, ask fsd for NAME.
    Impostor {
        #[arg(default_value = "treasure.txt")]
        name: String,
    },
    /// PID reuse: get the victim's PID (clone3 set_tid, or cycling) and ask fsd for NAME.
    PidReuse {
        /// The victim's pid.
        #[arg(long, conflicts_with = "victim_pid_file")]
        victim_pid: Option<i32>,
        /// A file holding the victim's pid (deputy-client --pid-file writes one).
        #[arg(long)]
        victim_pid_file: Option<PathBuf>,
        /// At most this many forks while cycling.
        #[arg(long, default_value_t = 300_000)]
        max_forks: u64,
        #[arg(default_value = "treasure.txt")]
        name: String,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let t = Target {
        dir: args.dir,
        deadline: Instant::now() + Duration::from_secs(args.deadline),
    };
    let (label, verdict) = match args.which {
        Which::Confused { name } => ("confused", attack::confused(&t, &name)),
        Which::Symlink { target } => ("symlink", attack::symlink(&t, &target)),
        Which::StaleLend { handoff } => {
            return match attack::stale_lend(&t, &handoff) {
                Ok(msg) => {
                    println!("deputy-attack stale-lend: {msg}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("deputy-attack stale-lend: FAILED TO RUN: {e}");
                    ExitCode::from(3)
                }
            };
        }
        Which::Stale { handoff, name } => ("stale", attack::stale(&t, &handoff, &name)),
        Which::Impostor { name } => ("impostor", attack::impostor(&t, &name)),
        Which::PidReuse {
            victim_pid,
            victim_pid_file,
            max_forks,
            name,
        } => {
            let pid = pidreuse::victim_pid(victim_pid, victim_pid_file.as_deref());
            let verdict = match pid {
                Err(e) => Verdict::Failed(e),
                Ok(pid) => match pidreuse::pid_reuse(&t, pid, &name, max_forks, args.show) {
                    Outcome::Reported(code) => return ExitCode::from(code),
                    Outcome::Verdict(v) => v,
                },
            };
            ("pid-reuse", verdict)
        }
    };
    verdict.report(label, args.show)
}
