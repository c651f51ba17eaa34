//! The request-latency benchmark: how long one authorised READ takes, per design.
//!
//! It starts each design with the launcher in a scratch directory, measures, and formats
//! (median, p99, ratio). It must never be used as a test: timings are reported, never asserted.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::client::{self, ClientError};
use crate::wire::{self, Reply};

/// Latencies of `n` READs of `name` on one connection, and of `n` connect+READ pairs.
#[derive(Debug, Clone)]
pub struct Sample {
    pub same_connection: Vec<Duration>,
    pub new_connection: Vec<Duration>,
}

/// Measure one server.
pub fn measure(socket: &Path, name: &str, n: usize) -> Result<Sample, ClientError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = wire::read_request(name)?;
    let stream = client::connect_until(socket, deadline)?;
    let mut same = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = client::request(&stream, &line)?;
        same.push(t.elapsed());
        if !matches!(r, Reply::Ok(_)) {
            return Err(ClientError::Unexpected(format!("{r:?}")));
        }
    }
    let mut fresh = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let s = client::connect_until(socket, deadline)?;
        let r = client::request(&s, &line)?;
        fresh.push(t.elapsed());
        if !matches!(r, Reply::Ok(_)) {
            return Err(ClientError::Unexpected(format!("{r:?}")));
        }
    }
    Ok(Sample {
        same_connection: same,
        new_connection: fresh,
    })
}

/// The q-quantile (0..=1) of `v`.
pub fn quantile(v: &[Duration], q: f64) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    if s.is_empty() {
        return Duration::ZERO;
    }
    let i = ((s.len() - 1) as f64 * q).round() as usize;
    s[i.min(s.len() - 1)]
}

/// A side-by-side table: rows are the two ways of asking, columns starter and reference.
pub fn table(starter: &Sample, reference: &Sample) -> String {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut out = String::from(
        "| request | starter median | starter p99 | reference median | reference p99 | median ratio ref/starter |\n|---|---|---|---|---|---|\n",
    );
    for (label, a, b) in [
        (
            "READ on an open connection (cached answer)",
            &starter.same_connection,
            &reference.same_connection,
        ),
        (
            "connect + READ",
            &starter.new_connection,
            &reference.new_connection,
        ),
    ] {
        let (am, ap, bm, bp) = (
            quantile(a, 0.5),
            quantile(a, 0.99),
            quantile(b, 0.5),
            quantile(b, 0.99),
        );
        out.push_str(&format!(
            "| {label} | {:.1} us | {:.1} us | {:.1} us | {:.1} us | {:.2} |\n",
            us(am),
            us(ap),
            us(bm),
            us(bp),
            us(bm) / us(am).max(1e-9)
        ));
    }
    out
}

/// One design to measure: its permd and fsd.
#[derive(Debug, Clone)]
pub struct Design {
    pub permd: std::path::PathBuf,
    pub fsd: std::path::PathBuf,
}

/// Drop to `uid` (group = uid, no supplementary groups) when running as root.
pub fn drop_root(uid: u32) -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let id = nix::unistd::Uid::from_raw(uid);
    let gid = nix::unistd::Gid::from_raw(uid);
    nix::unistd::setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    nix::unistd::setgid(gid).map_err(|e| format!("setgid: {e}"))?;
    nix::unistd::setuid(id).map_err(|e| format!("setuid: {e}"))?;
    if nix::unistd::setuid(nix::unistd::Uid::from_raw(0)).is_ok() {
        return Err("could still become root after dropping privileges".into());
    }
    Ok(())
}

/// Start `design` with `launcher` in `dir`, measure `n` requests each way, stop it.
pub fn run_design(
    launcher: &Path,
    design: &Design,
    dir: &Path,
    n: usize,
) -> Result<Sample, String> {
    let _ = std::fs::remove_file(dir.join(wire::FSD_SOCKET));
    let _ = std::fs::remove_file(dir.join(wire::PERMD_SOCKET));
    let me = nix::unistd::geteuid().as_raw().to_string();
    let mut child = std::process::Command::new(launcher)
        .arg("--permd")
        .arg(&design.permd)
        .arg("--fsd")
        .arg(&design.fsd)
        .args(["--reader", &me])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", launcher.display()))?;
    let result = measure(&dir.join(wire::FSD_SOCKET), "treasure.txt", n).map_err(|e| e.to_string());
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
    result
}
