//! `deputy-bench`: latency of an authorised READ, starter design against reference design.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use deputy_tools::bench::{Design, drop_root, run_design, table};

/// Start each design with deputy-launch in a scratch directory, time N READs on one
/// connection and N connect+READ pairs, and print a table (medians, p99, ratio).
#[derive(Debug, Parser)]
#[command(name = "deputy-bench")]
struct Args {
    /// Directory holding the starter's permd and fsd.
    #[arg(long)]
    starter: PathBuf,
    /// Directory holding the reference's permd and fsd.
    #[arg(long)]
    reference: PathBuf,
    /// Requests per measurement.
    #[arg(long, default_value_t = 2000)]
    n: usize,
    /// When started as root, run everything as this uid instead.
    #[arg(long, default_value_t = 28001)]
    uid: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = drop_root(args.uid) {
        eprintln!("deputy-bench: {e}");
        return ExitCode::from(3);
    }
    let run = || -> Result<String, String> {
        let launcher = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("deputy-launch");
        let dir = tempfile_dir()?;
        std::fs::create_dir(dir.join("litterbox")).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("litterbox/treasure.txt"), "Treasure found!")
            .map_err(|e| e.to_string())?;
        let design = |d: &PathBuf| Design {
            permd: d.join("permd"),
            fsd: d.join("fsd"),
        };
        let s = run_design(&launcher, &design(&args.starter), &dir, args.n)
            .map_err(|e| format!("starter: {e}"));
        let r = run_design(&launcher, &design(&args.reference), &dir, args.n)
            .map_err(|e| format!("reference: {e}"));
        let _ = std::fs::remove_dir_all(&dir);
        Ok(table(&s?, &r?))
    };
    match run() {
        Ok(t) => {
            println!(
                "{} requests each, one client, treasure.txt (15 bytes)\n\n{t}",
                args.n
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("deputy-bench: {e}");
            ExitCode::from(3)
        }
    }
}

/// A fresh scratch directory under /tmp, owned by the (possibly dropped) user.
fn tempfile_dir() -> Result<PathBuf, String> {
    let base = std::env::temp_dir().join(format!("deputy-bench-{}", std::process::id()));
    std::fs::create_dir(&base).map_err(|e| format!("{}: {e}", base.display()))?;
    Ok(base)
}
