//! The benchmark (`proxy-bench`): per-message latency (p50, p99) and pipelined throughput on the
//! direct path and through a proxy, side by side in one run, against the same reference server.
//! It measures and prints; it never asserts a figure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::{Client, Request};
use crate::frame::{CLIENT, kind};

/// What to run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub proxy: PathBuf,
    pub messages: usize,
    pub size: usize,
    pub window: usize,
}

/// One path's figures.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub p50_us: f64,
    pub p99_us: f64,
    pub per_second: f64,
}

struct Scratch {
    dir: PathBuf,
    proxy: Option<Child>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(mut child) = self.proxy.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_connectable(path: &Path, deadline: Instant) -> Result<(), String> {
    loop {
        match Client::connect(path) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "{} never accepted a connection: {e}",
                    path.display()
                ));
            }
            Err(_) => std::thread::yield_now(),
        }
    }
}

fn request(seq: u32, payload: &[u8]) -> Request {
    Request {
        src: CLIENT,
        kind: kind::ECHO,
        seq,
        payload: payload.to_vec(),
    }
}

fn call(client: &mut Client, seq: u32, payload: &[u8]) -> Result<Duration, String> {
    let started = Instant::now();
    client
        .call(&request(seq, payload))
        .map_err(|e| e.to_string())?;
    Ok(started.elapsed())
}

/// Messages per second with `window` requests in flight.
fn throughput(client: &mut Client, s: &Settings, payload: &[u8]) -> Result<f64, String> {
    let count = (s.messages / ROUNDS).max(1);
    let started = Instant::now();
    let (mut sent, mut received) = (0usize, 0usize);
    while sent < s.window.min(count) {
        client
            .send(&request(sent as u32, payload))
            .map_err(|e| e.to_string())?;
        sent += 1;
    }
    while received < count {
        client
            .next_reply(received as u32)
            .map_err(|e| e.to_string())?;
        received += 1;
        if sent < count {
            client
                .send(&request(sent as u32, payload))
                .map_err(|e| e.to_string())?;
            sent += 1;
        }
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// Throughput rounds per path (alternating); the median round is reported.
const ROUNDS: usize = 5;

/// Both paths measured interleaved (one direct round trip, one through the proxy, and so on;
/// throughput rounds alternate), so a busy machine slows both alike.
fn measure(direct: &Path, proxied: &Path, s: &Settings) -> Result<(Figures, Figures), String> {
    let payload = vec![0x5au8; s.size];
    let mut d = Client::connect(direct).map_err(|e| e.to_string())?;
    let mut p = Client::connect(proxied).map_err(|e| e.to_string())?;
    for seq in 0..1000u32 {
        call(&mut d, seq, &payload)?;
        call(&mut p, seq, &payload)?;
    }
    let (mut ld, mut lp) = (
        Vec::with_capacity(s.messages),
        Vec::with_capacity(s.messages),
    );
    for i in 0..s.messages {
        ld.push(call(&mut d, i as u32, &payload)?);
        lp.push(call(&mut p, i as u32, &payload)?);
    }
    let (mut td, mut tp) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        td.push(throughput(&mut d, s, &payload)?);
        tp.push(throughput(&mut p, s, &payload)?);
    }
    let figures = |mut lat: Vec<Duration>, mut tput: Vec<f64>| {
        lat.sort();
        tput.sort_by(f64::total_cmp);
        let pick = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
        Figures {
            p50_us: pick(0.50),
            p99_us: pick(0.99),
            per_second: tput[tput.len() / 2],
        }
    };
    Ok((figures(ld, td), figures(lp, tp)))
}

/// Runs both paths and returns (direct, proxied).
pub fn run(s: &Settings) -> Result<(Figures, Figures), String> {
    let dir = std::env::temp_dir().join(format!("proxy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut scratch = Scratch {
        dir: dir.clone(),
        proxy: None,
    };
    let server = dir.join("server.sock");
    let truth = dir.join("truth.jsonl");
    {
        let (server, truth) = (server.clone(), truth.clone());
        std::thread::spawn(move || crate::server::run(&server, &truth, None, false));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    wait_connectable(&server, deadline)?;
    let proxy_sock = dir.join("proxy.sock");
    let child = Command::new(&s.proxy)
        .arg("--listen")
        .arg(&proxy_sock)
        .arg("--server")
        .arg(&server)
        .arg("--log")
        .arg(dir.join("proxy.jsonl"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", s.proxy.display()))?;
    scratch.proxy = Some(child);
    wait_connectable(&proxy_sock, deadline)?;
    let figures = measure(&server, &proxy_sock, s)?;
    drop(scratch);
    Ok(figures)
}

/// The side-by-side table.
pub fn table(s: &Settings, direct: &Figures, proxied: &Figures) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} ECHO round trips of {} payload bytes per path, interleaved; throughput: median of {ROUNDS} alternating rounds of {} messages, {} in flight\n",
        s.messages,
        s.size,
        (s.messages / ROUNDS).max(1),
        s.window
    ));
    out.push_str("| path   | p50 µs | p99 µs | messages/s |\n|---|---:|---:|---:|\n");
    for (name, f) in [("direct", direct), ("proxy", proxied)] {
        out.push_str(&format!(
            "| {name:<6} | {:>6.1} | {:>6.1} | {:>10.0} |\n",
            f.p50_us, f.p99_us, f.per_second
        ));
    }
    out.push_str(&format!(
        "added latency p50: {:.1} µs (target ≤ 20), p99: {:.1} µs; throughput ratio proxy/direct: {:.2} (target ≥ 0.50)\n",
        proxied.p50_us - direct.p50_us,
        proxied.p99_us - direct.p99_us,
        proxied.per_second / direct.per_second
    ));
    out
}
