//! `shm-hostile`: see `shm_tools::hostile`.
use clap::Parser;
use shm_tools::hostile::{self, Attack, Context, Verdict};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    about = "A hostile client of a shm-lab server. Exit 0: the server resisted; 1: the attack worked; 2: setup error."
)]
struct Args {
    /// Directory holding the submission's ipc.so (default: $IPCDIR).
    #[arg(long, env = "IPCDIR")]
    ipcdir: PathBuf,
    /// The server's audit log, for pid-lie (default: $SHM_IPC_LOG).
    #[arg(long, env = "SHM_IPC_LOG")]
    log: Option<PathBuf>,
    /// Deadline of the whole attack, in seconds.
    #[arg(long, default_value_t = 20)]
    deadline: u64,
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// Run one attack.
    Attack {
        #[arg(value_enum)]
        attack: Attack,
    },
    #[command(hide = true)]
    Victim { secret: String },
    #[command(hide = true)]
    Die,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let report = hostile::save_stdout();
    let say = |s: &str| match &report {
        Some(fd) => {
            let _ = rustix::io::write(fd, format!("{s}\n").as_bytes());
        }
        None => println!("{s}"),
    };
    let attack = match args.what {
        What::Victim { secret } => {
            hostile::victim(&args.ipcdir, &secret);
            return ExitCode::SUCCESS;
        }
        What::Die => hostile::die(&args.ipcdir),
        What::Attack { attack } => attack,
    };
    let name = format!("{attack:?}");
    let _dog = shm_tools::watchdog::arm(
        Duration::from_secs(args.deadline),
        format!(
            "BROKEN {name}: no verdict within {} s (a job was never answered: the server is dead or stuck)",
            args.deadline
        ),
    );
    let ctx = Context {
        ipcdir: args.ipcdir,
        log: args.log,
    };
    match hostile::run(attack, &ctx) {
        Verdict::Resisted(s) => {
            say(&format!("RESISTED {name}: {s}"));
            ExitCode::SUCCESS
        }
        Verdict::Broken(s) => {
            say(&format!("BROKEN {name}: {s}"));
            ExitCode::from(1)
        }
        Verdict::Setup(s) => {
            say(&format!("SETUP {name}: {s}"));
            ExitCode::from(2)
        }
    }
}
