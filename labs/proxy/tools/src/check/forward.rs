//! Checkers of Part 1: the proxy forwards every message unchanged (`forward`, `sizes`) and logs
//! each one, in order, with the right fields (`log`). They never inject faults.

use crate::check::{RunDir, Verdict, connect_lab, connect_proxy, describe};
use crate::client::{Request, random_requests};
use crate::frame::{self, CLIENT, SERVER, kind};
use crate::rng::SplitMix64;
use crate::trace::{ProxyRecord, read_proxy_log};

/// 200 random messages give byte-identical replies through the proxy and on the direct path.
pub fn forward(seed: u64, run: &RunDir) -> Verdict {
    let requests = random_requests(seed, 200, 1, CLIENT);
    let mut direct = connect_lab(&run.direct())?;
    let mut proxied = connect_proxy(&run.proxy())?;
    for (i, r) in requests.iter().enumerate() {
        let want = direct.call(r).map_err(|e| format!("direct path: {e}"))?;
        let got = proxied.call(r).map_err(|e| {
            format!(
                "message {} of 200 (seq {}, {}): {e} (handout: 1.3 Forward one packet at a time)",
                i + 1,
                r.seq,
                frame::kind_name(r.kind)
            )
        })?;
        if want != got {
            return Err(format!(
                "message {} of 200 (seq {}, {}, {} payload bytes): the direct path replied {} \
                 but through your proxy the client got {}: forward each packet unchanged, \
                 header and payload (handout: 1.3 Forward one packet at a time)",
                i + 1,
                r.seq,
                frame::kind_name(r.kind),
                r.payload.len(),
                describe(&want),
                describe(&got)
            ));
        }
    }
    Ok(
        "200 random messages: every reply through the proxy is byte-identical to the direct path"
            .to_owned(),
    )
}

/// Empty, 1-byte, 64 KiB - 1 and 64 KiB payloads pass intact both ways.
pub fn sizes(seed: u64, run: &RunDir) -> Verdict {
    let mut rng = SplitMix64::new(seed);
    let mut proxied = connect_proxy(&run.proxy())?;
    for (i, len) in [0usize, 1, frame::MAX_PAYLOAD - 1, frame::MAX_PAYLOAD]
        .into_iter()
        .enumerate()
    {
        let payload = rng.bytes(len);
        let r = Request {
            src: CLIENT,
            kind: kind::ECHO,
            seq: 500 + i as u32,
            payload: payload.clone(),
        };
        let got = proxied.call(&r).map_err(|e| {
            format!("ECHO of {len} bytes: {e} (handout: 1.3 Forward one packet at a time)")
        })?;
        let want = frame::packet(SERVER, CLIENT, kind::ECHO | kind::REPLY, r.seq, &payload);
        if got != want {
            return Err(format!(
                "ECHO of {len} payload bytes: expected the reply {} but got {}: receive into a \
                 buffer that holds the largest packet ({} bytes) and send exactly what you \
                 received (handout: 1.3 Forward one packet at a time)",
                describe(&want),
                describe(&got),
                frame::MAX_PACKET
            ));
        }
    }
    Ok("payloads of 0, 1, 65535 and 65536 bytes pass intact both ways".to_owned())
}

fn expected_line(dir: &str, k: Option<u64>, packet: &[u8]) -> Option<ProxyRecord> {
    let (h, payload) = frame::Header::parse(packet).ok()?;
    Some(ProxyRecord {
        dir: dir.to_owned(),
        conn: 0,
        k,
        src: h.src,
        dst: h.dst,
        kind: h.kind,
        seq: h.seq,
        len: payload.len(),
        hash: frame::hash_text(payload),
        t_us: 0,
        action: "forward".to_owned(),
    })
}

/// The log holds every message, in order, with the right fields.
pub fn log(seed: u64, run: &RunDir) -> Verdict {
    let requests = random_requests(seed ^ 0x106, 200, 1000, CLIENT);
    let mut proxied = connect_proxy(&run.proxy())?;
    let mut expected = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let reply = proxied.call(r).map_err(|e| {
            format!(
                "seq {}: {e} (handout: 1.3 Forward one packet at a time)",
                r.seq
            )
        })?;
        expected.extend(expected_line("c2s", Some(i as u64 + 1), &r.packet()));
        match expected_line("s2c", None, &reply) {
            Some(line) => expected.push(line),
            None => return Err(format!("seq {}: the reply is {}", r.seq, describe(&reply))),
        }
    }
    let path = run.proxy_log();
    let got = read_proxy_log(&path).map_err(|e| {
        format!("{e}: write one JSON object per line with the fields of handout 1.4 (handout: 1.4 One line per message)")
    })?;
    let hint = "(handout: 1.4 One line per message)";
    if got.is_empty() {
        return Err(format!(
            "{} is empty or missing after 200 requests and replies: write one JSON line per \
             message, before you forward it {hint}",
            path.display()
        ));
    }
    let conn = got[0].conn;
    let mut last_t = 0;
    for (i, want) in expected.iter().enumerate() {
        let Some(line) = got.get(i) else {
            return Err(format!(
                "the log has {} lines, expected {} (each of the 200 requests and each of the \
                 200 replies); first missing: {} {hint}",
                got.len(),
                expected.len(),
                want.normal()
            ));
        };
        if line.normal() != want.normal() {
            return Err(format!(
                "log line {}: expected {}\n  but it says {}\n  log both directions, in the \
                 order the proxy handles them, with the header's fields and the hash of the \
                 payload as received {hint}",
                i + 1,
                want.normal(),
                line.normal()
            ));
        }
        if line.conn != conn {
            return Err(format!(
                "log line {}: conn is {} but this run had one connection (conn {conn}) {hint}",
                i + 1,
                line.conn
            ));
        }
        if line.t_us < last_t {
            return Err(format!(
                "log line {}: t_us {} is earlier than the line before ({last_t}): use a \
                 monotonic clock (Instant) {hint}",
                i + 1,
                line.t_us
            ));
        }
        last_t = line.t_us;
    }
    if got.len() > expected.len() {
        return Err(format!(
            "the log has {} lines, expected {}; line {} is extra: {} {hint}",
            got.len(),
            expected.len(),
            expected.len() + 1,
            got[expected.len()].normal()
        ));
    }
    Ok("400 log lines (200 requests, 200 replies) in order, every field right".to_owned())
}
