//! `deputy-client`: a well-behaved client of fsd (authorised reads, cache size, victims).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use deputy_tools::session;

#[derive(Debug, Parser)]
#[command(name = "deputy-client")]
struct Args {
    /// The run directory holding fsd.sock.
    #[arg(long, default_value = ".", global = true)]
    dir: PathBuf,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 10, global = true)]
    deadline: u64,
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Ask fsd for litterbox/NAME and print it (exit 0), or print the refusal (exit 1).
    Read {
        name: String,
        /// Write this process's pid to FILE first (for the pid-reuse attack's victim).
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
        /// Read twice from the same process: print `read 1: ...`, wait (up to 30 s) for a line
        /// on stdin, then print `read 2: ...` (exit status from the second read).
        #[arg(long)]
        twice: bool,
    },
    /// Print fsd's cache size (`CACHE <n>`).
    Cache,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let deadline = Instant::now() + Duration::from_secs(args.deadline);
    let mut out = std::io::stdout().lock();
    let code = match args.what {
        What::Cache => session::cache(&args.dir, deadline, &mut out),
        What::Read {
            name,
            pid_file,
            twice,
        } => {
            if let Some(f) = &pid_file
                && let Err(e) = std::fs::write(f, format!("{}\n", std::process::id()))
            {
                eprintln!("deputy-client: cannot write {}: {e}", f.display());
                return ExitCode::from(3);
            }
            if twice {
                session::read_twice(&args.dir, &name, deadline, &mut out)
            } else {
                session::read_once(&args.dir, &name, deadline, &mut out)
            }
        }
    };
    ExitCode::from(code)
}
