//! `shm-clients`: see `shm_tools::clients`.
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    about = "Many honest clients of a shm-lab server at once, every answer verified. Exit 0 all right, 1 some wrong, 2 setup error."
)]
struct Args {
    /// Directory holding the submission's ipc.so (default: $IPCDIR).
    #[arg(long, env = "IPCDIR")]
    ipcdir: PathBuf,
    /// Client processes at once.
    #[arg(long, default_value_t = 32)]
    copies: usize,
    /// Write jobs per client.
    #[arg(long, default_value_t = 100)]
    jobs: usize,
    /// Makes each run's texts different.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Deadline of the whole run, in seconds.
    #[arg(long, default_value_t = 30)]
    deadline: u64,
    #[arg(long, hide = true)]
    child: Option<usize>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let limit = Duration::from_secs(a.deadline);
    if let Some(i) = a.child {
        let _dog = shm_tools::watchdog::arm(
            limit,
            format!("client {i}: no answer within {} s", a.deadline),
        );
        return match shm_tools::clients::child(&a.ipcdir, i, a.jobs, a.seed) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        };
    }
    if a.copies == 0 || a.copies > 256 || a.jobs > 100_000 {
        println!("shm-clients: --copies must be 1 to 256 and --jobs at most 100000");
        return ExitCode::from(2);
    }
    let _dog = shm_tools::watchdog::arm(
        limit + Duration::from_secs(5),
        format!("shm-clients: the run did not end within {} s", a.deadline),
    );
    let plan = shm_tools::clients::Plan {
        ipcdir: a.ipcdir,
        copies: a.copies,
        jobs: a.jobs,
        seed: a.seed,
        deadline: limit,
    };
    match shm_tools::clients::run(&plan) {
        Ok(p) if p.is_empty() => {
            println!(
                "OK: {} clients x {} jobs, every answer right and on its own client's stdout",
                a.copies, a.jobs
            );
            ExitCode::SUCCESS
        }
        Ok(p) => {
            println!("WRONG: {} problem(s) among {} clients", p.len(), a.copies);
            for line in p.iter().take(10) {
                println!("  {line}");
            }
            ExitCode::from(1)
        }
        Err(e) => {
            println!("shm-clients: {e}");
            ExitCode::from(2)
        }
    }
}
