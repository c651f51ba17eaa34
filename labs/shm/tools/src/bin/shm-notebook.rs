//! `shm-notebook`: the notebook's client cell by cell (get a buffer, print its address, ask
//! for a write of `IPC Demo Working!` on fd 1, submit, wait, disconnect), in Rust so that the
//! grader needs no Python. `response: N` goes to stderr.
//!
//! Exit status: 0 done; 1 ipc_get_job_buffer returned NULL; 2 the library could not be loaded.
use clap::Parser;
use shm_tools::abi;
use shm_tools::ipclib::IpcLib;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    about = "The notebook's client: prints the job buffer's address, then the server writes the text on this client's stdout."
)]
struct Args {
    /// ipc.so, or the directory holding it (default: $IPCDIR).
    #[arg(long, env = "IPCDIR")]
    ipcdir: PathBuf,
    /// The text to write (default: the notebook's).
    #[arg(long, default_value = "IPC Demo Working!\n")]
    text: String,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let lib = match IpcLib::load(&a.ipcdir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("shm-notebook: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(job) = lib.connect() else {
        return ExitCode::from(1);
    };
    println!("Job buffer: {:#x}", job.address());
    let _ = std::io::stdout().flush();
    job.prepare(abi::CMD_WRITE, 1, 0);
    job.set_data(a.text.as_bytes());
    let r = job.run();
    eprintln!("response: {r}");
    drop(job);
    ExitCode::SUCCESS
}
