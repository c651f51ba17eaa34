//! `proxy-bench --proxy BIN`: prints the side-by-side table; exit 0, or 1 when a run failed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::bench::{Settings, run, table};

/// Latency and throughput of the direct path and through a proxy, in one run.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The proxy program (started with --listen, --server, --log in a scratch directory).
    #[arg(long)]
    proxy: PathBuf,
    /// Round trips per path (after 1000 warm-up ones).
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// ECHO payload bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Requests in flight for the throughput run.
    #[arg(long, default_value_t = 32)]
    window: usize,
}

pub fn main() -> ExitCode {
    let a = Args::parse();
    let settings = Settings {
        proxy: a.proxy,
        messages: a.messages.max(1),
        size: a.size.min(crate::frame::MAX_PAYLOAD),
        window: a.window.max(1),
    };
    match run(&settings) {
        Ok((direct, proxied)) => {
            print!("{}", table(&settings, &direct, &proxied));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("proxy-bench: {e}");
            ExitCode::from(1)
        }
    }
}
