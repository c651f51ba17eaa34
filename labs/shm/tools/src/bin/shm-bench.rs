//! `shm-bench`: see `shm_tools::bench`.
use clap::Parser;
use shm_tools::bench;
use shm_tools::ipclib::IpcLib;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    about = "Round trips: shm server vs Unix socket vs pipe pair vs futex floor; then throughput."
)]
struct Args {
    /// Directory holding server and ipc.so (from install.sh).
    #[arg(long, env = "IPCDIR")]
    ipcdir: PathBuf,
    /// Round trips per transport.
    #[arg(long, default_value_t = 20_000)]
    rounds: usize,
    /// Throughput: client threads.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Throughput: jobs per client.
    #[arg(long, default_value_t = 10_000)]
    jobs: usize,
    /// Worker threads of the server.
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let server = match bench::Server::start(&a.ipcdir, a.workers) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("shm-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let lib = match IpcLib::load(&a.ipcdir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("shm-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(out) = bench::quiet_stdout() else {
        eprintln!("shm-bench: cannot redirect stdout");
        return ExitCode::from(2);
    };
    let say = |s: String| {
        let _ = rustix::io::write(&out, format!("{s}\n").as_bytes());
    };
    let shm = match bench::shm_round_trips(&lib, a.rounds) {
        Ok(v) => v,
        Err(e) => {
            say(format!("shm-bench: {e}"));
            return ExitCode::from(1);
        }
    };
    let rows = [
        ("shm server (ipc.so)", shm),
        ("unix socket", bench::unix_round_trips(a.rounds)),
        ("pipe pair", bench::pipe_round_trips(a.rounds)),
        (
            "futex ping-pong (floor)",
            bench::futex_round_trips(a.rounds),
        ),
    ];
    let stats: Vec<_> = rows
        .into_iter()
        .map(|(n, v)| (n, bench::Stats::from_samples(v)))
        .collect();
    say(format!(
        "round trip of one write job, {} rounds each ({} server worker(s))",
        a.rounds, a.workers
    ));
    say(format!(
        "{:<26} {:>10} {:>10} {:>12} {:>12}",
        "transport", "median", "p99", "shm/this med", "shm/this p99"
    ));
    let s0 = stats[0].1;
    for (name, s) in &stats {
        say(format!(
            "{:<26} {:>10} {:>10} {:>12.2} {:>12.2}",
            name,
            bench::fmt(s.median),
            bench::fmt(s.p99),
            s0.median.as_secs_f64() / s.median.as_secs_f64(),
            s0.p99.as_secs_f64() / s.p99.as_secs_f64()
        ));
    }
    match bench::throughput(&lib, a.clients, a.jobs) {
        Ok(t) => say(format!(
            "throughput: {} clients x {} jobs: {:.0} jobs/s",
            a.clients, a.jobs, t
        )),
        Err(e) => say(format!("throughput failed: {e}")),
    }
    drop(server);
    ExitCode::SUCCESS
}
