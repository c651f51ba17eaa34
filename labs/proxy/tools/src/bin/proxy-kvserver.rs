//! `proxy-kvserver`: the lab's reference key-value server with its ground-truth log.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The lab's key-value server: SOCK_SEQPACKET, one JSON ground-truth line per packet received.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Socket path to listen on (a stale socket file there is replaced).
    #[arg(long)]
    listen: PathBuf,
    /// Ground-truth log, appended to (one JSON line per packet, written before the reply).
    #[arg(long)]
    truth: PathBuf,
    /// Write one byte to this inherited descriptor once listening.
    #[arg(long)]
    ready_fd: Option<i32>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match proxy_tools::server::run(&args.listen, &args.truth, args.ready_fd, true) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxy-kvserver: {e}");
            ExitCode::from(1)
        }
    }
}
