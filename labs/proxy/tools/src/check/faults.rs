//! Checkers of Part 3: each fault of a plan shows in the proxy's log, in the server's ground
//! truth and in what the client got (`faults`); killing the server gives the client errors and a
//! restart brings it back (`kill`); the same plan and seed give the same trace (`replay`); the
//! trace comparison points at the first fault (`diff`). Plans come from `plan` (seeded).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::check::{RunDir, Verdict, connect_lab, connect_proxy, describe};
use crate::client::{Client, Request};
use crate::diff::{explain, first_departure};
use crate::frame::{self, CLIENT, Header, PROXY, SERVER, kind};
use crate::kvstore::TruthRecord;
use crate::plan::{self, BATCH, Plan, PlanFor, REPLAY_BATCH};
use crate::rng::SplitMix64;
use crate::seqpacket::Conn;
use crate::trace::{read_proxy_log, read_truth};

/// Writes the plan `what` draws for `seed`.
pub fn write_plan(what: PlanFor, seed: u64, run: &RunDir) -> Verdict {
    let plan = plan::draw(what, seed);
    let text = serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())?;
    std::fs::write(run.plan(), text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", run.plan().display()))?;
    Ok(format!("plan written to {}", run.plan().display()))
}

fn read_plan(run: &RunDir) -> Result<Plan, String> {
    let text = std::fs::read_to_string(run.plan())
        .map_err(|e| format!("cannot read {}: {e}", run.plan().display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", run.plan().display()))
}

/// ECHO requests seq 1..=count with payloads of 8..64 bytes.
fn echoes(seed: u64, count: u64) -> Vec<Request> {
    let mut rng = SplitMix64::new(seed ^ 0xec40);
    (1..=count as u32)
        .map(|seq| {
            let len = rng.range(8, 64) as usize;
            Request {
                src: CLIENT,
                kind: kind::ECHO,
                seq,
                payload: rng.bytes(len),
            }
        })
        .collect()
}

fn section(fault: &str) -> &'static str {
    match fault {
        "drop" | "error" => "3.2 Losing a message",
        "corrupt" | "truncate" => "3.3 Damaging a message",
        "duplicate" | "delay" | "reorder" => "3.4 Doubling, holding, swapping",
        _ => "3.1 A fault plan is data",
    }
}

/// Each fault of the plan shows in the proxy log, in the ground truth and at the client.
pub fn faults(what: PlanFor, seed: u64, run: &RunDir) -> Verdict {
    let plan = read_plan(run)?;
    let fixed = plan.fixed();
    let requests = echoes(seed, BATCH);
    let mut proxied = connect_proxy(&run.proxy())?;
    let replies = proxied.batch(&requests, 9999, CLIENT).map_err(|e| {
        format!(
            "after a batch of {BATCH} requests and a barrier: {e}. Faults change messages, never \
             the proxy's own progress: the barrier after them must come back (handout: 3.1 A fault plan is data)"
        )
    })?;
    let log = read_proxy_log(&run.proxy_log())
        .map_err(|e| format!("{e} (handout: 1.4 One line per message)"))?;
    let truth = read_truth(&run.truth()).map_err(|e| e.to_string())?;
    let replies: Vec<(Header, Vec<u8>)> = replies
        .iter()
        .filter_map(|p| Header::peek(p).ok().map(|h| (h, p.clone())))
        .collect();
    for r in &requests {
        let k = u64::from(r.seq);
        let fault = fixed
            .iter()
            .find(|(at, _)| *at == k)
            .map(|(_, f)| f.as_str());
        let name = fault.unwrap_or("forward");
        let hint = format!("(handout: {})", section(name));
        let at = |layer: &str, msg: String| {
            format!(
                "message k={k} (seq {}, plan: {name}), {layer}: {msg} {hint}",
                r.seq
            )
        };
        let line = log
            .iter()
            .find(|l| l.dir == "c2s" && l.k == Some(k))
            .ok_or_else(|| {
                at(
                    "proxy log",
                    "no c2s line with this k: log every message, faulty or not".to_owned(),
                )
            })?;
        if line.action != name {
            return Err(at(
                "proxy log",
                format!("action is {:?}, the plan says {name:?}", line.action),
            ));
        }
        let seen: Vec<&TruthRecord> = truth.iter().filter(|t| t.seq == Some(r.seq)).collect();
        let got: Vec<&(Header, Vec<u8>)> = replies.iter().filter(|(h, _)| h.seq == r.seq).collect();
        let sent_hash = frame::hash_text(&r.payload);
        let want = frame::packet(SERVER, CLIENT, kind::ECHO | kind::REPLY, r.seq, &r.payload);
        let truth_count = |n: usize| {
            if seen.len() == n {
                Ok(())
            } else {
                Err(at(
                    "server ground truth",
                    format!("reached the server {} times, expected {n}", seen.len()),
                ))
            }
        };
        let reply_count = |n: usize| {
            if got.len() == n {
                Ok(())
            } else {
                Err(at(
                    "client",
                    format!("{} replies with this seq, expected {n}", got.len()),
                ))
            }
        };
        match name {
            "drop" => {
                truth_count(0)?;
                reply_count(0)?;
            }
            "error" => {
                truth_count(0)?;
                reply_count(1)?;
                let (h, p) = got[0];
                if h.kind != kind::ERROR || h.src != PROXY {
                    return Err(at(
                        "client",
                        format!(
                            "expected an ERROR from the proxy ({PROXY}), got {}",
                            describe(p)
                        ),
                    ));
                }
            }
            "corrupt" => {
                truth_count(1)?;
                reply_count(1)?;
                if seen[0].hash == sent_hash || seen[0].len != r.payload.len() {
                    return Err(at(
                        "server ground truth",
                        format!(
                            "the server saw len={} hash={} but the client sent len={} hash={sent_hash}: \
                         corrupt flips one bit of the payload, same length",
                            seen[0].len,
                            seen[0].hash,
                            r.payload.len()
                        ),
                    ));
                }
                if got[0].1 == want {
                    return Err(at(
                        "client",
                        "the ECHO came back intact, so the payload was not corrupted".to_owned(),
                    ));
                }
            }
            "truncate" => {
                truth_count(1)?;
                reply_count(1)?;
                if seen[0].status != "bad" || seen[0].len >= r.payload.len() {
                    return Err(at(
                        "server ground truth",
                        format!(
                            "the server saw status={} len={} (sent len={}): truncate cuts the payload \
                         and keeps the header's length, so the server must see a short, bad packet",
                            seen[0].status,
                            seen[0].len,
                            r.payload.len()
                        ),
                    ));
                }
                let (h, p) = got[0];
                if h.kind != kind::ERROR || h.src != SERVER {
                    return Err(at(
                        "client",
                        format!(
                            "expected the server's ERROR about the length, got {}",
                            describe(p)
                        ),
                    ));
                }
            }
            "duplicate" => {
                truth_count(2)?;
                reply_count(2)?;
            }
            "reorder" => {
                truth_count(1)?;
                reply_count(1)?;
                let pos = |seq: u32| truth.iter().position(|t| t.seq == Some(seq));
                match (pos(r.seq), pos(r.seq + 1)) {
                    (Some(a), Some(b)) if b < a => {}
                    _ => {
                        return Err(at(
                            "server ground truth",
                            format!(
                                "seq {} must reach the server right after seq {}, not before",
                                r.seq,
                                r.seq + 1
                            ),
                        ));
                    }
                }
            }
            _ => {
                // forward and delay: delivered once, answered once, intact.
                truth_count(1)?;
                reply_count(1)?;
                if seen[0].hash != sent_hash {
                    return Err(at(
                        "server ground truth",
                        "the payload changed on the way".to_owned(),
                    ));
                }
                if got[0].1 != want {
                    return Err(at(
                        "client",
                        format!("expected {}, got {}", describe(&want), describe(&got[0].1)),
                    ));
                }
            }
        }
    }
    let names: Vec<String> = fixed.iter().map(|(at, f)| format!("{f}@{at}")).collect();
    Ok(format!(
        "{} ({what:?}): each fault shows in the proxy log, the ground truth and at the client",
        names.join(", ")
    ))
}

/// A reference server started by the checker (after a kill), stopped when dropped.
struct Restarted {
    child: Child,
}

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn restart_server(run: &RunDir) -> Result<Restarted, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let server = exe.with_file_name("proxy-kvserver");
    let mut child = Command::new(&server)
        .arg("--listen")
        .arg(run.server())
        .arg("--truth")
        .arg(run.file("truth-restart.jsonl"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", server.display()))?;
    let stdout = child.stdout.take();
    let guard = Restarted { child };
    let (tx, rx) = mpsc::channel();
    if let Some(out) = stdout {
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
    }
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(line) if line.starts_with("proxy-kvserver ready") => Ok(guard),
        other => Err(format!("the restarted server did not come up ({other:?})")),
    }
}

/// Kill the server at message k: the client gets errors, never a hang; after a restart,
/// requests work again on the same connection.
pub fn kill(seed: u64, run: &RunDir) -> Verdict {
    let plan = read_plan(run)?;
    let k = plan
        .fixed()
        .iter()
        .find(|(_, f)| f == "kill")
        .map(|(at, _)| *at)
        .ok_or_else(|| "the plan has no kill rule".to_owned())?;
    let hint_kill = "(handout: 3.5 When the server dies)";
    let mut watcher = connect_lab(&run.server())?;
    let requests = echoes(seed, k + 4);
    let mut proxied = connect_proxy(&run.proxy())?;
    for r in &requests[..(k - 1) as usize] {
        let want = frame::packet(SERVER, CLIENT, kind::ECHO | kind::REPLY, r.seq, &r.payload);
        let got = proxied.call(r).map_err(|e| {
            format!(
                "seq {}: {e} (handout: 1.3 Forward one packet at a time)",
                r.seq
            )
        })?;
        if got != want {
            return Err(format!(
                "seq {} (before the kill): expected {}, got {}",
                r.seq,
                describe(&want),
                describe(&got)
            ));
        }
    }
    let error_from_proxy =
        |what: &str, r: &Request, got: Result<Vec<u8>, crate::client::ClientError>| {
            let got = got
                .map_err(|e| format!("{what}: {e}: answer the client with an ERROR {hint_kill}"))?;
            match Header::peek(&got) {
                Ok(h) if h.kind == kind::ERROR && h.src == PROXY && h.seq == r.seq => Ok(()),
                _ => Err(format!(
                    "{what}: expected an ERROR from the proxy with seq {}, got {} {hint_kill}",
                    r.seq,
                    describe(&got)
                )),
            }
        };
    let rk = &requests[(k - 1) as usize];
    error_from_proxy(&format!("message k={k} (plan: kill)"), rk, proxied.call(rk))?;
    // The server's death shows as the end of the watcher's connection.
    drop_until_eof(&mut watcher).map_err(|e| {
        format!("{e}: the kill fault must kill the server (SIGKILL to the pid SO_PEERCRED gives for the upstream connection) {hint_kill}")
    })?;
    // A dying process closes its descriptors one by one: wait until its listening socket is
    // gone too, so the next request meets a server that is really down.
    wait_refused(&run.server(), Instant::now() + Duration::from_secs(3))?;
    let truth = read_truth(&run.truth()).map_err(|e| e.to_string())?;
    if truth.iter().any(|t| t.seq == Some(rk.seq)) {
        return Err(format!(
            "message k={k} reached the server although the plan kills the server instead of forwarding it {hint_kill}"
        ));
    }
    let down = &requests[k as usize];
    error_from_proxy(
        &format!("seq {} (server down)", down.seq),
        down,
        proxied.call(down),
    )?;
    let _server = restart_server(run)?;
    let put = Request {
        src: CLIENT,
        kind: kind::PUT,
        seq: down.seq + 1,
        payload: frame::put_payload(b"after", b"restart"),
    };
    let get = Request {
        src: CLIENT,
        kind: kind::GET,
        seq: down.seq + 2,
        payload: b"after".to_vec(),
    };
    let hint_back = "(handout: 3.6 Reconnect)";
    let got = proxied
        .call(&put)
        .map_err(|e| format!("PUT after the restart: {e} {hint_back}"))?;
    if got != frame::packet(SERVER, CLIENT, kind::PUT | kind::REPLY, put.seq, b"") {
        return Err(format!(
            "after the server restarted, a PUT got {}: connect to the server again on the next request {hint_back}",
            describe(&got)
        ));
    }
    let got = proxied
        .call(&get)
        .map_err(|e| format!("GET after the restart: {e} {hint_back}"))?;
    if got != frame::packet(SERVER, CLIENT, kind::GET | kind::REPLY, get.seq, b"restart") {
        return Err(format!(
            "after the restart, GET got {} {hint_back}",
            describe(&got)
        ));
    }
    Ok(format!(
        "kill at k={k}: ERROR replies while the server was down, and requests work again after the restart"
    ))
}

fn wait_refused(path: &std::path::Path, deadline: Instant) -> Result<(), String> {
    loop {
        match Conn::connect(path) {
            Err(_) => return Ok(()),
            Ok(_) if Instant::now() >= deadline => {
                return Err(format!(
                    "{} still accepts connections 3s after the kill",
                    path.display()
                ));
            }
            Ok(_) => std::thread::yield_now(),
        }
    }
}

fn drop_until_eof(watcher: &mut Client) -> Result<(), String> {
    watcher
        .wait_closed(Instant::now() + Duration::from_secs(3))
        .map_err(|e| format!("the server is still alive 3s after the kill ({e})"))
}

/// Same plan, same seed, same input: two proxies write the same trace.
pub fn replay(seed: u64, run: &RunDir) -> Verdict {
    let requests = echoes(seed, REPLAY_BATCH);
    let hint = "(handout: 3.7 Same seed, same run)";
    let mut a = connect_proxy(&run.proxy())?;
    let mut b = connect_proxy(&run.proxy2())?;
    a.batch(&requests, 9999, CLIENT)
        .map_err(|e| format!("first run: {e} {hint}"))?;
    b.batch(&requests, 9999, CLIENT)
        .map_err(|e| format!("second run: {e} {hint}"))?;
    let la = read_proxy_log(&run.proxy_log()).map_err(|e| format!("{e} {hint}"))?;
    let lb = read_proxy_log(&run.proxy2_log()).map_err(|e| format!("{e} {hint}"))?;
    let faults = la
        .iter()
        .filter(|l| l.dir == "c2s" && l.action != "forward")
        .count();
    if faults == 0 {
        return Err(format!(
            "the plan's rate rules hit no message of {REPLAY_BATCH} in the first run ({} log \
             lines): draw each rule from the plan's seed and the message number {hint}",
            la.len()
        ));
    }
    match first_departure(&la, &lb) {
        None => Ok(format!(
            "both runs: {} lines, {faults} faults, the same trace",
            la.len()
        )),
        Some(d) => Err(format!(
            "the two runs of the same plan and input differ: {}\n  decide each fault from the \
             plan's seed and k only (no clock, no OS randomness) {hint}",
            explain(&Some(d))
        )),
    }
}

/// A clean and a faulty run of the same input: the comparison points at the first fault.
pub fn diff(seed: u64, run: &RunDir) -> Verdict {
    let plan = read_plan(run)?;
    let (k1, first) = plan
        .fixed()
        .first()
        .cloned()
        .ok_or_else(|| "empty plan".to_owned())?;
    let requests = echoes(seed, BATCH);
    let hint = "(handout: 3.8 Compare a faulty run with a clean one)";
    let mut clean = connect_proxy(&run.proxy())?;
    let mut faulty = connect_proxy(&run.proxy2())?;
    clean
        .batch(&requests, 9999, CLIENT)
        .map_err(|e| format!("clean run: {e} {hint}"))?;
    faulty
        .batch(&requests, 9999, CLIENT)
        .map_err(|e| format!("faulty run: {e} {hint}"))?;
    let la = read_proxy_log(&run.proxy_log()).map_err(|e| format!("{e} {hint}"))?;
    let lb = read_proxy_log(&run.proxy2_log()).map_err(|e| format!("{e} {hint}"))?;
    let Some(d) = first_departure(&la, &lb) else {
        return Err(format!(
            "the clean and the faulty trace are the same: the faulty run must name its faults in the log {hint}"
        ));
    };
    let text = explain(&Some(d.clone()));
    let at_fault = |n: &Option<crate::trace::Normal>| {
        n.as_ref()
            .is_some_and(|n| n.dir == "c2s" && n.k == Some(k1))
    };
    if !at_fault(&d.clean) || !at_fault(&d.faulty) {
        return Err(format!(
            "{text}\n  but the first fault is {first} at k={k1}: the traces must agree up to \
             the faulty message's line {hint}"
        ));
    }
    let (Some(c), Some(f)) = (&d.clean, &d.faulty) else {
        unreachable!("checked above")
    };
    let same_message = crate::trace::Normal {
        action: c.action.clone(),
        ..f.clone()
    } == *c;
    if f.action != first || !same_message {
        return Err(format!(
            "{text}\n  the faulty line must be the same message as the clean one (as received) \
             with action {first:?}: log what arrived, then name what you did to it {hint}"
        ));
    }
    Ok(format!(
        "{text}\n  = the first fault of the plan ({first} at k={k1})"
    ))
}
