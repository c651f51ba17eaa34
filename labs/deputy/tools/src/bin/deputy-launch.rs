//! `deputy-launch`: start permd and fsd, connected by inherited descriptors (see `launch`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use deputy_tools::launch::{LaunchConfig, run};

/// Start permd and fsd in DIR, hand them socket pairs at fds 3-5, and forward admin commands
/// (`revoke <uid>`, `grant <uid>`, one per line on stdin) to permd. Stops both on SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "deputy-launch")]
struct Args {
    /// The permd program.
    #[arg(long)]
    permd: PathBuf,
    /// The fsd program.
    #[arg(long)]
    fsd: PathBuf,
    /// A uid that may read the litterbox (passed to permd as `--reader <uid>`); repeatable.
    #[arg(long = "reader", value_name = "UID")]
    readers: Vec<u32>,
    /// Working directory of both servers (the run directory).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = LaunchConfig {
        permd: args.permd,
        fsd: args.fsd,
        readers: args.readers,
        dir: args.dir,
    };
    match run(&cfg) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("deputy-launch: {e}");
            ExitCode::from(3)
        }
    }
}
