//! `proxy-check <what> --seed N --run DIR`: runs one checker; prints `PASS: ...` or `FAIL: ...`
//! on stdout and exits 0 or 1 (2 for bad arguments, from clap).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::check::{self, RunDir};
use crate::plan::PlanFor;

/// The lab proxy's checkers. Sockets and logs have fixed names in the run directory (see the
/// lab's README): proxy.sock, proxy.jsonl, server.sock, truth.jsonl, ...
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    what: What,
    /// The check's seed (the grader's {seed}).
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// The check's run directory (the grader's {run}).
    #[arg(long, global = true, default_value = ".")]
    run: PathBuf,
}

#[derive(Debug, Subcommand)]
enum What {
    /// 200 random messages: replies through the proxy equal the direct path's
    Forward,
    /// the log has every message in order with the right fields
    Log,
    /// empty, 1-byte and 64 KiB payloads pass intact
    Sizes,
    /// a learning run records exactly the triples it saw (learned.json)
    Learn,
    /// write the enforcing run's policy (policy.json)
    Policy,
    /// an enforcing run denies what the policy does not allow
    Enforce,
    /// write the fault plan for a check (plan.json)
    Plan {
        #[arg(long = "for", value_enum)]
        plan: PlanFor,
    },
    /// each fault of the plan shows in the log, the ground truth and at the client
    Faults {
        #[arg(long = "for", value_enum)]
        plan: PlanFor,
    },
    /// the server is killed at message k: errors, then a restart works
    Kill,
    /// the same plan and seed give the same trace twice (proxy.sock and proxy2.sock)
    Replay,
    /// the comparison of a clean (proxy.sock) and faulty (proxy2.sock) run points at the first fault
    Diff,
}

pub fn main() -> ExitCode {
    let args = Args::parse();
    let run = RunDir(args.run);
    let seed = args.seed;
    let verdict = match args.what {
        What::Forward => check::forward::forward(seed, &run),
        What::Log => check::forward::log(seed, &run),
        What::Sizes => check::forward::sizes(seed, &run),
        What::Learn => check::policy::learn(seed, &run),
        What::Policy => check::policy::write_policy(seed, &run),
        What::Enforce => check::policy::enforce(seed, &run),
        What::Plan { plan } => check::faults::write_plan(plan, seed, &run),
        What::Faults { plan } => check::faults::faults(plan, seed, &run),
        What::Kill => check::faults::kill(seed, &run),
        What::Replay => check::faults::replay(seed, &run),
        What::Diff => check::faults::diff(seed, &run),
    };
    match verdict {
        Ok(text) => {
            println!("PASS: {text}");
            ExitCode::SUCCESS
        }
        Err(text) => {
            println!("FAIL: {text}");
            ExitCode::from(1)
        }
    }
}
