//! Checkers of Part 2: a learning run records exactly the triples it saw (`learn`), and an
//! enforcing run answers anything outside the policy with an ERROR that never reaches the server
//! (`enforce`, with the policy `policy` writes). The policies depend on the seed, so a proxy
//! with a hard-coded list fails.

use std::collections::BTreeSet;

use crate::allowlist::{Allowlist, Triple};
use crate::check::{RunDir, Verdict, connect_proxy, describe};
use crate::client::{BARRIER, Request};
use crate::frame::{self, Header, PROXY, SERVER, kind};
use crate::kvstore::Store;
use crate::rng::SplitMix64;
use crate::trace::read_truth;

/// The client id and request types a seed gives (learning and enforcing runs).
fn draw(seed: u64) -> (u16, Vec<u16>) {
    let mut rng = SplitMix64::new(seed ^ 0x1ea2);
    let src = 10 + rng.below(80) as u16;
    let mut types = vec![kind::PUT, kind::GET];
    for extra in [kind::DEL, kind::INCR, kind::ECHO] {
        if rng.below(2) == 0 {
            types.push(extra);
        }
    }
    (src, types)
}

/// The requests of a learning run: every drawn type, a GET that hits and one that misses.
fn learning_requests(src: u16, types: &[u16]) -> Vec<Request> {
    let mut out = Vec::new();
    let mut seq = 100;
    let mut push = |kind: u16, payload: &[u8]| {
        seq += 1;
        out.push(Request {
            src,
            kind,
            seq,
            payload: payload.to_vec(),
        });
    };
    push(kind::PUT, &frame::put_payload(b"colour", b"teal"));
    push(kind::GET, b"colour");
    push(kind::GET, b"shape");
    for t in types {
        match *t {
            kind::DEL => push(kind::DEL, b"colour"),
            kind::INCR => push(kind::INCR, b"visits"),
            kind::ECHO => push(kind::ECHO, b"hello"),
            _ => {}
        }
    }
    out
}

/// Writes the policy of an enforcing run for `seed` (the drawn client and types, their replies).
pub fn write_policy(seed: u64, run: &RunDir) -> Verdict {
    let (src, types) = draw(seed);
    let mut allow = BTreeSet::new();
    for t in &types {
        allow.insert(Triple {
            src,
            dst: SERVER,
            kind: *t,
        });
        allow.insert(Triple {
            src: SERVER,
            dst: src,
            kind: *t | kind::REPLY,
        });
    }
    allow.insert(Triple {
        src: SERVER,
        dst: src,
        kind: kind::NOTFOUND,
    });
    allow.insert(Triple {
        src: SERVER,
        dst: src,
        kind: kind::ERROR,
    });
    Allowlist { allow }.write(&run.policy())?;
    Ok(format!(
        "policy for client {src} written to {}",
        run.policy().display()
    ))
}

/// A learning run records exactly the triples it saw, both directions.
pub fn learn(seed: u64, run: &RunDir) -> Verdict {
    let (src, types) = draw(seed);
    let requests = learning_requests(src, &types);
    let mut store = Store::new();
    let mut expected = BTreeSet::new();
    let mut proxied = connect_proxy(&run.proxy())?;
    for r in &requests {
        let (want, _) = store.handle(0, &r.packet());
        let got = proxied
            .call(r)
            .map_err(|e| format!("seq {}: {e} (handout: 2.2 Learn)", r.seq))?;
        if got != want {
            return Err(format!(
                "learning run, seq {}: expected the reply {} but got {}: a learning proxy \
                 forwards everything (handout: 2.2 Learn)",
                r.seq,
                describe(&want),
                describe(&got)
            ));
        }
        expected.insert(Triple {
            src,
            dst: SERVER,
            kind: r.kind,
        });
        let h = Header::peek(&want).map_err(|e| e.to_string())?;
        expected.insert(Triple {
            src: h.src,
            dst: h.dst,
            kind: h.kind,
        });
    }
    let learned =
        Allowlist::read(&run.learned()).map_err(|e| format!("{e} (handout: 2.2 Learn)"))?;
    let missing: Vec<String> = expected
        .difference(&learned.allow)
        .map(Triple::to_string)
        .collect();
    let extra: Vec<String> = learned
        .allow
        .difference(&expected)
        .map(Triple::to_string)
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(format!(
            "the learned policy is not the set of triples this run used: missing [{}], \
             extra [{}]. Record (src, dst, type) of every message you forward, requests and \
             replies, and rewrite the file before forwarding a message with a new triple \
             (handout: 2.2 Learn)",
            missing.join(", "),
            extra.join(", ")
        ));
    }
    Ok(format!(
        "the learned policy holds exactly the {} triples used",
        expected.len()
    ))
}

/// Sends a request then a barrier: Ok(the reply that came first) or an explanation.
fn refused(
    proxied: &mut crate::client::Client,
    r: &Request,
    barrier_src: u16,
    what: &str,
) -> Result<(), String> {
    let barrier = Request {
        src: barrier_src,
        kind: kind::ECHO,
        seq: r.seq + 1000,
        payload: BARRIER.to_vec(),
    };
    let hint = "(handout: 2.3 Enforce: a rule is a triple)";
    proxied.send(r).map_err(|e| e.to_string())?;
    proxied.send(&barrier).map_err(|e| e.to_string())?;
    let first = proxied
        .next_reply(r.seq)
        .map_err(|e| format!("{what}: {e} {hint}"))?;
    let h = Header::peek(&first).map_err(|e| format!("{what}: reply is not a message: {e}"))?;
    if h.seq == barrier.seq {
        return Err(format!(
            "{what}: no reply at all (the next request's reply came first): a denied request \
             must get an ERROR reply from the proxy, or the client waits forever \
             (handout: 2.4 Deny with an answer)"
        ));
    }
    if h.kind != kind::ERROR || h.src != PROXY || h.seq != r.seq || h.dst != r.src {
        return Err(format!(
            "{what} must be denied with ERROR {PROXY}->{} seq={}, but the client got {} {hint}",
            r.src,
            r.seq,
            describe(&first)
        ));
    }
    proxied
        .next_reply(barrier.seq)
        .map_err(|e| format!("after {what}: {e} {hint}"))?;
    Ok(())
}

/// An enforcing run denies what the policy does not allow; denied messages never reach the server.
pub fn enforce(seed: u64, run: &RunDir) -> Verdict {
    let (src, types) = draw(seed);
    let mut proxied = connect_proxy(&run.proxy())?;
    let hint = "(handout: 2.3 Enforce: a rule is a triple)";
    let call = |p: &mut crate::client::Client, r: &Request| {
        p.call(r).map_err(|e| format!("seq {}: {e} {hint}", r.seq))
    };
    let put = Request {
        src,
        kind: kind::PUT,
        seq: 1,
        payload: frame::put_payload(b"colour", b"teal"),
    };
    let got = call(&mut proxied, &put)?;
    let want = frame::packet(SERVER, src, kind::PUT | kind::REPLY, 1, b"");
    if got != want {
        return Err(format!(
            "an allowed PUT from client {src} must pass, but the client got {} {hint}",
            describe(&got)
        ));
    }
    let mut denied = vec![
        (
            Request {
                src,
                kind: kind::FLUSH,
                seq: 2,
                payload: Vec::new(),
            },
            format!("FLUSH from client {src} (not in the policy)"),
        ),
        (
            Request {
                src: src + 1,
                kind: kind::GET,
                seq: 4,
                payload: b"colour".to_vec(),
            },
            format!(
                "GET from client {} (GET is allowed, but only from client {src})",
                src + 1
            ),
        ),
    ];
    for (t, seq) in [(kind::DEL, 6), (kind::INCR, 8), (kind::ECHO, 10)] {
        if !types.contains(&t) {
            let payload = if t == kind::ECHO {
                b"hi".to_vec()
            } else {
                b"colour".to_vec()
            };
            denied.push((
                Request {
                    src,
                    kind: t,
                    seq,
                    payload,
                },
                format!(
                    "{} from client {src} (not in the policy)",
                    frame::kind_name(t)
                ),
            ));
        }
    }
    for (r, what) in &denied {
        refused(&mut proxied, r, src, what)?;
    }
    let get = Request {
        src,
        kind: kind::GET,
        seq: 20,
        payload: b"colour".to_vec(),
    };
    let got = call(&mut proxied, &get)?;
    let want = frame::packet(SERVER, src, kind::GET | kind::REPLY, 20, b"teal");
    if got != want {
        return Err(format!(
            "after the denied requests, GET colour must still give `teal`, but the client got {}: \
             a denied request must never reach the server {hint}",
            describe(&got)
        ));
    }
    let truth = read_truth(&run.truth()).map_err(|e| e.to_string())?;
    for (r, what) in &denied {
        if let Some(t) = truth
            .iter()
            .find(|t| t.seq == Some(r.seq) && t.kind == Some(r.kind))
        {
            return Err(format!(
                "{what} was answered with an ERROR, but it reached the server anyway (ground \
                 truth line {}): decide before you forward (handout: 2.4 Deny with an answer)",
                t.n
            ));
        }
    }
    Ok(format!(
        "{} denied requests got an ERROR from the proxy and never reached the server; allowed ones passed",
        denied.len()
    ))
}
