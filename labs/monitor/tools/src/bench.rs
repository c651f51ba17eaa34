//! `monitor-bench`: the cost of mediation. The same small call (Calc.Add) is timed over a
//! direct channel (client to server, no monitor: IPCMON_DIRECT) and through a monitor
//! (client to monitor to server and back, with the server's acknowledgement), one client
//! (round-trip p50/p99) and eight client processes at once (calls per second).
//!
//! It prints a table with the ratios; it asserts nothing. Every child it starts is reaped
//! before it returns.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use rustix::io::FdFlags;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use crate::harness::{self, Env, LAB_IDL, Setup};
use crate::proto::channel::Ends;

/// Arguments.
#[derive(Debug, Parser)]
#[command(name = "monitor-bench")]
pub struct Args {
    /// The monitor to measure (default: the lab's monitor-refmon next to this program).
    #[arg(long)]
    pub monitor: Option<PathBuf>,
    /// Calls per client (after 200 warm-up calls).
    #[arg(long, default_value_t = 20000)]
    pub calls: usize,
    /// Scratch directory (default: a temporary one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Internal: run as one client, timing calls on channel `bench`, results to this file.
    #[arg(long, hide = true)]
    pub client_out: Option<PathBuf>,
    /// Internal: the client end's channel name in client mode.
    #[arg(long, hide = true, default_value = "bench")]
    pub channel: String,
}

const WARMUP: usize = 200;

fn add_args() -> Vec<u8> {
    let mut p = 2u32.to_le_bytes().to_vec();
    p.extend_from_slice(&3u32.to_le_bytes());
    p
}

/// Client mode: `calls` timed calls; writes "start_ns end_ns" then one latency (ns) per line.
fn client_mode(out: &Path, channel: &str, calls: usize) -> Result<(), String> {
    let mut ends = Ends::from_env().map_err(|e| e.to_string())?;
    let c = ends.client(channel).map_err(|e| e.to_string())?;
    let args = add_args();
    for _ in 0..WARMUP {
        c.call(1, 1, &args)
            .map_err(|code| format!("warm-up call failed with code {code}"))?;
    }
    let mut lat = Vec::with_capacity(calls);
    let now_ns = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    };
    let start = now_ns();
    for _ in 0..calls {
        let t = Instant::now();
        c.call(1, 1, &args)
            .map_err(|code| format!("call failed with code {code}"))?;
        lat.push(t.elapsed().as_nanos());
    }
    let end = now_ns();
    let mut s = format!("{start} {end}\n");
    for l in lat {
        s.push_str(&format!("{l}\n"));
    }
    std::fs::write(out, s).map_err(|e| e.to_string())
}

#[derive(Debug, Default)]
struct Sample {
    start: u128,
    end: u128,
    lat: Vec<u128>,
}

fn read_sample(p: &Path) -> Result<Sample, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let mut lines = text.lines();
    let head = lines.next().ok_or("empty sample")?;
    let (a, b) = head.split_once(' ').ok_or("bad sample")?;
    Ok(Sample {
        start: a.parse().map_err(|_| "bad sample")?,
        end: b.parse().map_err(|_| "bad sample")?,
        lat: lines.filter_map(|l| l.parse().ok()).collect(),
    })
}

#[derive(Debug)]
struct Row {
    p50_us: f64,
    p99_us: f64,
    rate: f64,
}

fn summarise(one: &Sample, many: &[Sample]) -> Row {
    let mut l = one.lat.clone();
    l.sort_unstable();
    let pick = |q: f64| {
        let i = ((l.len() as f64 - 1.0) * q).round() as usize;
        l.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    let start = many.iter().map(|s| s.start).min().unwrap_or(0);
    let end = many.iter().map(|s| s.end).max().unwrap_or(0);
    let total: usize = many.iter().map(|s| s.lat.len()).sum();
    let secs = (end.saturating_sub(start)) as f64 / 1e9;
    Row {
        p50_us: pick(0.5),
        p99_us: pick(0.99),
        rate: if secs > 0.0 { total as f64 / secs } else { 0.0 },
    }
}

fn pair() -> Result<(OwnedFd, OwnedFd), String> {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| e.to_string())
}

/// Direct: one server process, `n` client processes, each with its own socketpair.
fn direct(
    me: &Path,
    tools: &Path,
    dir: &Path,
    n: usize,
    calls: usize,
) -> Result<Vec<Sample>, String> {
    let idl = dir.join("lab.idl");
    std::fs::write(&idl, LAB_IDL).map_err(|e| e.to_string())?;
    let mut server_ends = Vec::new();
    let mut client_ends = Vec::new();
    for _ in 0..n {
        let (a, b) = pair()?;
        client_ends.push(a);
        server_ends.push(b);
    }
    let spawn = |cmd: &mut Command, name: &str, list: &[(String, &'static str, &OwnedFd)]| {
        for (_, _, fd) in list {
            rustix::io::fcntl_setfd(fd, FdFlags::empty()).map_err(|e| e.to_string())?;
        }
        let env: Vec<String> = list
            .iter()
            .map(|(c, side, fd)| format!("{c}={side}:{}", fd.as_raw_fd()))
            .collect();
        let child = cmd
            .env("IPCMON_NAME", name)
            .env("IPCMON_CHANNELS", env.join(","))
            .env("IPCMON_DIRECT", "1")
            .env("IPCMON_IDL", &idl)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string());
        for (_, _, fd) in list {
            let _ = rustix::io::fcntl_setfd(fd, FdFlags::CLOEXEC);
        }
        child
    };
    let list: Vec<(String, &'static str, &OwnedFd)> = server_ends
        .iter()
        .enumerate()
        .map(|(i, fd)| (format!("c{i}"), "server", fd))
        .collect();
    let mut server = spawn(
        &mut Command::new(tools.join("monitor-server")),
        "server",
        &list,
    )?;
    drop(server_ends);
    let mut kids = Vec::new();
    for (i, fd) in client_ends.iter().enumerate() {
        let out = dir.join(format!("direct{n}-{i}.txt"));
        let mut cmd = Command::new(me);
        cmd.arg("--calls")
            .arg(calls.to_string())
            .arg("--client-out")
            .arg(&out);
        kids.push((
            spawn(
                &mut cmd,
                &format!("c{i}"),
                &[("bench".into(), "client", fd)],
            )?,
            out,
        ));
    }
    drop(client_ends);
    let mut samples = Vec::new();
    for (mut k, out) in kids {
        if !harness::wait_deadline(&k, Duration::from_secs(120)) {
            let _ = k.kill();
        }
        let _ = k.wait();
        samples.push(read_sample(&out)?);
    }
    let _ = server.kill();
    let _ = server.wait();
    Ok(samples)
}

/// Through the monitor: the same programs, started by the monitor from a solution.
fn mediated(me: &Path, env: &Env, n: usize, calls: usize) -> Result<Vec<Sample>, String> {
    let mut s = Setup::new(env, &format!("monitor{n}"))?;
    s.policy = "call * Calc.Add\nreply server Calc.Add\n".into();
    s.server(vec![env.tool("monitor-server")]);
    for i in 0..n {
        let name = format!("c{i}");
        s.programs.push(crate::proto::solution::ProgramSpec {
            name: name.clone(),
            command: vec![
                me.display().to_string(),
                "--calls".into(),
                calls.to_string(),
                "--client-out".into(),
                s.path(&format!("{name}.txt")),
                "--channel".into(),
                format!("bench{i}"),
            ],
            daemon: false,
            stdout: None,
            uid: None,
            gid: None,
        });
        s.channels.push(crate::proto::solution::ChannelSpec {
            name: format!("bench{i}"),
            client: name,
            server: "server".into(),
        });
    }
    let ran = s.run(env)?;
    (0..n)
        .map(|i| read_sample(&ran.dir.join(format!("c{i}.txt"))))
        .collect()
}

/// Entry of `monitor-bench`.
pub fn main() -> ExitCode {
    let a = Args::parse();
    if let Some(out) = &a.client_out {
        return match client_mode(out, &a.channel, a.calls) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("monitor-bench client: {e}");
                ExitCode::from(2)
            }
        };
    }
    match drive(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("monitor-bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn drive(a: &Args) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let tools = me.parent().ok_or("no tools dir")?.to_path_buf();
    let monitor = a
        .monitor
        .clone()
        .unwrap_or_else(|| tools.join("monitor-refmon"));
    let tmp;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
            tmp.path().to_path_buf()
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let env = Env {
        monitor: monitor.clone(),
        tools: tools.clone(),
        dir: dir.clone(),
        seed: 0,
        program: None,
    };
    let many = (a.calls / 4).max(1000);
    let d1 = direct(&me, &tools, &dir, 1, a.calls)?;
    let d8 = direct(&me, &tools, &dir, 8, many)?;
    let m1 = mediated(&me, &env, 1, a.calls)?;
    let m8 = mediated(&me, &env, 8, many)?;
    let d = summarise(&d1[0], &d8);
    let m = summarise(&m1[0], &m8);
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "monitor-bench: Calc.Add(2, 3), {} timed calls (1 client), {} per client (8 clients), monitor {}",
        a.calls,
        many,
        monitor.display()
    );
    let _ = writeln!(
        o,
        "| path | round trip p50 | round trip p99 | calls/s, 8 clients |"
    );
    let _ = writeln!(o, "|---|---|---|---|");
    let _ = writeln!(
        o,
        "| direct channel | {:.1} us | {:.1} us | {:.0} |",
        d.p50_us, d.p99_us, d.rate
    );
    let _ = writeln!(
        o,
        "| through the monitor | {:.1} us | {:.1} us | {:.0} |",
        m.p50_us, m.p99_us, m.rate
    );
    let _ = writeln!(
        o,
        "| monitor / direct | {:.2}x | {:.2}x | {:.2}x |",
        m.p50_us / d.p50_us.max(1e-9),
        m.p99_us / d.p99_us.max(1e-9),
        m.rate / d.rate.max(1e-9)
    );
    let _ = writeln!(
        o,
        "monitor overhead (p50): {:.2}x the direct round trip (target: at most 2x)",
        (m.p50_us - d.p50_us) / d.p50_us.max(1e-9)
    );
    Ok(())
}
