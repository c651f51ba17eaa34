//! The lab's checks, each one monitor run judged from outside: which codes every client got,
//! what reached the server (its own log), what the audit log says, and whether a blocked
//! caller burned CPU. Each returns Ok(summary) or Err(explanation for the student).
//!
//! Expected codes come from the lab's own model (`oracle`), never from the submission. No
//! check here may wait without a deadline or sleep to synchronise.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::Duration;

use crate::corpus;
use crate::harness::{Env, LAB_IDL, Ran, Setup};
use crate::oracle::Oracle;
use crate::proto::codes;
use crate::proto::idl::Idl;
use crate::proto::kernel::{Context, Mediator, Peer};
use crate::proto::policy::Policy;
use crate::proto::wire::{self, Header, Kind};
use crate::rng::Rng;
use crate::script::{self, Outcome, Step};

/// Check result: Ok(one-line summary) or Err(what went wrong, for the student).
pub type CheckResult = Result<String, String>;

/// The handout section each check's lesson is in (for messages).
pub fn section(check: &str) -> &'static str {
    match check {
        "methods" => "1.4 Run the starter",
        "corpus" => "2.2 Structure first",
        "matrix" => "2.4 Constraints on arguments",
        "audit" => "2.5 The audit log",
        "reply" => "2.6 Replies are messages too",
        "forge" => "3.3 Identity from the channel",
        "blocking" => "1.5 Blocking calls",
        "server" => "1.6 Write a server",
        "client" => "1.7 Write a client",
        "dynamic" => "1.8 Dynamic channels",
        _ => "the handout",
    }
}

fn idl() -> Idl {
    Idl::parse(LAB_IDL).unwrap_or_default()
}

fn ctx(policy: &str) -> Result<Context, String> {
    let idl = idl();
    let policy = Policy::parse(policy, &idl).map_err(|e| format!("lab bug: {e}"))?;
    Ok(Context { idl, policy })
}

fn call(channel: &str, method: &str, args: &[String]) -> Step {
    Step::Call {
        channel: channel.into(),
        method: method.into(),
        args: args.to_vec(),
        claim: None,
    }
}

fn forged(channel: &str, method: &str, args: &[String], claim: &str) -> Step {
    Step::Call {
        channel: channel.into(),
        method: method.into(),
        args: args.to_vec(),
        claim: Some(claim.into()),
    }
}

/// The bytes a scripted client sends for `step`, claiming `me` unless the step claims another.
fn bytes_of(step: &Step, me: &str) -> Vec<u8> {
    match step {
        Step::Raw { bytes, .. } => bytes.clone(),
        Step::Connect { .. } => Vec::new(),
        Step::Call {
            method,
            args,
            claim,
            ..
        } => match script::encode_args(&idl(), method, args) {
            Ok((riid, mid, payload)) => wire::encode(
                &Header::new(Kind::Request, riid, mid, claim.as_deref().unwrap_or(me)),
                &payload,
            ),
            Err(_) => Vec::new(),
        },
    }
}

/// The code the model gives `step` sent by `from`.
fn expected_code(ctx: &Context, from: &str, step: &Step) -> u32 {
    let channel = format!("srv-{from}");
    let f = Peer {
        program: from,
        channel: &channel,
    };
    let t = Peer {
        program: "server",
        channel: &channel,
    };
    Oracle
        .check_request(ctx, &f, &t, &bytes_of(step, from))
        .code
}

fn describe(step: &Step) -> String {
    match step {
        Step::Connect { server, channel } => format!("connect to {server} as channel {channel}"),
        Step::Call {
            method,
            args,
            claim,
            ..
        } => {
            let mut s = format!("{method}({})", args.join(", "));
            if let Some(c) = claim {
                s.push_str(&format!(" claiming to be `{c}`"));
            }
            s
        }
        Step::Raw { bytes, .. } => format!("{} raw bytes", bytes.len()),
    }
}

fn code_str(c: u32) -> String {
    format!("{} ({c})", codes::name(c))
}

/// What a call must give: a code, and for delivered calls the status and results (None =
/// any).
#[derive(Debug, Clone)]
struct Want {
    code: u32,
    status: Option<u32>,
    results: Option<Vec<serde_json::Value>>,
}

fn compare(
    who: &str,
    steps: &[Step],
    labels: &[String],
    wants: &[Want],
    got: &[Outcome],
) -> Result<(), String> {
    let mut errs = Vec::new();
    for (i, want) in wants.iter().enumerate() {
        let label = labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| describe(&steps[i]));
        let Some(o) = got.iter().find(|o| o.n == i) else {
            errs.push(format!("{who}: `{label}` never returned"));
            continue;
        };
        if o.code != want.code {
            errs.push(format!(
                "{who}: `{label}` expected {}, got {}",
                code_str(want.code),
                code_str(o.code)
            ));
            continue;
        }
        if want.code != codes::OK {
            continue;
        }
        if let Some(s) = want.status
            && o.status != Some(s)
        {
            errs.push(format!(
                "{who}: `{label}` expected status {s}, got {:?}",
                o.status
            ));
            continue;
        }
        if let Some(r) = &want.results
            && o.results.as_ref() != Some(r)
        {
            {
                errs.push(format!(
                    "{who}: `{label}` expected results {}, got {} (payload {})",
                    serde_json::json!(r),
                    o.results
                        .as_ref()
                        .map(|x| serde_json::json!(x).to_string())
                        .unwrap_or("none".into()),
                    o.payload
                ));
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        let n = errs.len();
        errs.truncate(6);
        Err(format!("{n} call(s) wrong:\n  {}", errs.join("\n  ")))
    }
}

/// The honest server's answer to a well-formed call (per-client store `store`).
fn model(
    store: &mut HashMap<String, u32>,
    method: &str,
    args: &[String],
) -> (u32, Option<Vec<serde_json::Value>>) {
    let u = |i: usize| args.get(i).and_then(|a| a.parse::<u32>().ok()).unwrap_or(0);
    match method {
        "Calc.Add" => match u(0).checked_add(u(1)) {
            Some(s) => (0, Some(vec![serde_json::json!(s)])),
            None => (codes::APP_FAILED, Some(vec![serde_json::json!(0)])),
        },
        "Calc.Div" => match u(0).checked_div(u(1)) {
            Some(q) => (0, Some(vec![serde_json::json!(q)])),
            None => (codes::APP_FAILED, Some(vec![serde_json::json!(0)])),
        },
        "Store.Put" => {
            store.insert(args[0].clone(), u(1));
            (0, Some(vec![]))
        }
        "Store.Get" => match store.get(&args[0]) {
            Some(v) => (0, Some(vec![serde_json::json!(v)])),
            None => (codes::APP_NOKEY, Some(vec![serde_json::json!(0)])),
        },
        "Admin.Stats" => (0, None),
        "Admin.Reset" => (0, Some(vec![])),
        _ => (0, None),
    }
}

fn server_cmd(env: &Env, setup: &Setup, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        env.tool("monitor-server"),
        "--log".into(),
        setup.path("server.log"),
    ];
    v.extend(extra.iter().map(|s| (*s).to_owned()));
    v
}

fn arrivals(ran: &Ran) -> Result<Vec<serde_json::Value>, String> {
    Ok(ran
        .json_lines("server.log")?
        .into_iter()
        .filter(|l| l["event"] == "arrived")
        .collect())
}

const METHODS: [&str; 6] = [
    "Calc.Add",
    "Calc.Div",
    "Store.Put",
    "Store.Get",
    "Admin.Stats",
    "Admin.Reset",
];

/// Every method of the lab's IDL works through the monitor against the reference server.
pub fn methods(env: &Env) -> CheckResult {
    let mut r = Rng::new(env.seed);
    let mut s = Setup::new(env, "methods")?;
    s.policy = "call alice *\nreply server *\n".into();
    let (a, b) = (r.range(1, 50_000), r.range(1, 999));
    let v = r.range(1, 1_000_000);
    let key = format!("k{}", r.range(0, 999));
    let n = |x: u32| x.to_string();
    let steps = vec![
        call("srv-alice", "Calc.Add", &[n(a), n(b)]),
        call("srv-alice", "Calc.Div", &[n(a), n(b)]),
        call("srv-alice", "Store.Put", &[key.clone(), n(v)]),
        call("srv-alice", "Store.Get", std::slice::from_ref(&key)),
        call("srv-alice", "Store.Get", &["missing".into()]),
        call("srv-alice", "Admin.Stats", &[]),
        call("srv-alice", "Admin.Reset", &[]),
    ];
    s.server(server_cmd(env, &s, &[]));
    s.client(env, "alice", &steps)?;
    let ran = s.run(env)?;
    let mut store = HashMap::new();
    let wants: Vec<Want> = steps
        .iter()
        .map(|st| match st {
            Step::Call { method, args, .. } => {
                let (status, results) = model(&mut store, method, args);
                Want {
                    code: 0,
                    status: Some(status),
                    results,
                }
            }
            Step::Raw { .. } | Step::Connect { .. } => Want {
                code: 0,
                status: None,
                results: None,
            },
        })
        .collect();
    compare("alice", &steps, &[], &wants, &ran.outcomes("alice")?)?;
    Ok(format!("all {} calls answered correctly", steps.len()))
}

/// Malformed requests get their exact codes, from a caller with all rights and from one with
/// none, and none of them reaches the server.
pub fn corpus(env: &Env) -> CheckResult {
    let mut s = Setup::new(env, "corpus")?;
    s.policy = "call alice *\nreply server *\n".into();
    let cases = corpus::cases("alice");
    s.server(server_cmd(env, &s, &[]));
    let mut all = Vec::new();
    for who in ["alice", "bob"] {
        let steps: Vec<Step> = corpus::cases(who)
            .iter()
            .map(|c| Step::Raw {
                channel: format!("srv-{who}"),
                bytes: c.bytes.clone(),
            })
            .collect();
        s.client(env, who, &steps)?;
        all.push((who, steps));
    }
    let ran = s.run(env)?;
    let labels: Vec<String> = cases.iter().map(|c| c.name.to_owned()).collect();
    let mut errs = Vec::new();
    for (who, steps) in &all {
        let wants: Vec<Want> = cases
            .iter()
            .map(|c| Want {
                code: if !c.is_control {
                    c.code
                } else if *who == "alice" {
                    codes::OK
                } else {
                    codes::EDENIED
                },
                status: None,
                results: None,
            })
            .collect();
        if let Err(e) = compare(who, steps, &labels, &wants, &ran.outcomes(who)?) {
            errs.push(e);
        }
    }
    let arrived = arrivals(&ran)?;
    let allowed = 1;
    if arrived.len() != allowed {
        errs.push(format!(
            "the server's log shows {} request(s) arriving; exactly {allowed} (alice's well-formed call) should: a malformed or refused message must never be delivered",
            arrived.len()
        ));
    }
    if errs.is_empty() {
        Ok(format!(
            "{} malformed requests x 2 callers refused with the right codes",
            cases.len() - 1
        ))
    } else {
        Err(errs.join("\n"))
    }
}

const CLIENTS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// A random policy (per seed) and each client's calls against it.
#[derive(Debug)]
struct Matrix {
    policy: String,
    scripts: Vec<(&'static str, Vec<Step>)>,
}

fn matrix_for(seed: u64) -> Matrix {
    let mut r = Rng::new(seed);
    let mut policy = String::from("# drawn from the check's seed\n");
    // One client (drawn too) always has a constrained Calc.Add and nothing else on Calc, and
    // calls it once inside and once outside the constraint, so ignoring constraints shows.
    let victim = CLIENTS[usize::try_from(r.range(0, 3)).unwrap_or(0)];
    let limit = r.range(100, 900);
    for c in CLIENTS {
        for ep in ["Calc", "Store", "Admin"] {
            if ep == "Calc" && c == victim {
                policy.push_str(&format!("call {c} Calc.Add where a <= {limit}\n"));
                continue;
            }
            if r.chance(1, 5) {
                policy.push_str(&format!("call {c} {ep}.*\n"));
                continue;
            }
            for m in METHODS.iter().filter(|m| m.starts_with(ep)) {
                if !r.chance(1, 2) {
                    continue;
                }
                let constraint = match *m {
                    "Calc.Add" if r.chance(1, 2) => format!(" where a <= {}", r.range(100, 900)),
                    "Calc.Div" if r.chance(1, 2) => " where b != 0".to_owned(),
                    "Calc.Div" if r.chance(1, 2) => {
                        format!(" where a >= {} and b < 50", r.range(10, 500))
                    }
                    "Store.Put" if r.chance(1, 2) => {
                        format!(" where value < {}", r.range(100, 900))
                    }
                    _ => String::new(),
                };
                policy.push_str(&format!("call {c} {m}{constraint}\n"));
            }
        }
    }
    policy.push_str("reply server *\n");
    let mut scripts = Vec::new();
    for c in CLIENTS {
        let ch = format!("srv-{c}");
        let mut steps = Vec::new();
        for m in METHODS {
            for k in 0..2 {
                let n = |x: u32| x.to_string();
                let args: Vec<String> = match m {
                    "Calc.Add" if c == victim => {
                        let a = if k == 0 {
                            limit + r.range(1, 99)
                        } else {
                            r.range(0, limit)
                        };
                        vec![n(a), n(r.range(0, 1000))]
                    }
                    "Calc.Add" => vec![n(r.range(0, 1000)), n(r.range(0, 1000))],
                    "Calc.Div" => {
                        vec![
                            n(r.range(0, 1000)),
                            n(if k == 0 { r.range(0, 100) } else { 0 }),
                        ]
                    }
                    "Store.Put" => vec![format!("{c}{k}"), n(r.range(0, 1000))],
                    "Store.Get" => vec![format!("{c}{k}")],
                    _ => vec![],
                };
                steps.push(call(&ch, m, &args));
            }
        }
        scripts.push((c, steps));
    }
    Matrix { policy, scripts }
}

fn matrix_setup(env: &Env, name: &str) -> Result<(Setup, Matrix), String> {
    let mut s = Setup::new(env, name)?;
    let m = matrix_for(env.seed);
    s.policy = m.policy.clone();
    s.server(server_cmd(env, &s, &[]));
    for (c, steps) in &m.scripts {
        s.client(env, c, steps)?;
    }
    Ok((s, m))
}

fn matrix_wants(ctx: &Context, who: &str, steps: &[Step]) -> Vec<Want> {
    let mut store = HashMap::new();
    steps
        .iter()
        .map(|st| {
            let code = expected_code(ctx, who, st);
            match st {
                Step::Call { method, args, .. } if code == codes::OK => {
                    let (status, results) = model(&mut store, method, args);
                    Want {
                        code,
                        status: Some(status),
                        results,
                    }
                }
                _ => Want {
                    code,
                    status: None,
                    results: None,
                },
            }
        })
        .collect()
}

/// A policy drawn at random for this run: every client gets exactly the codes it implies.
pub fn matrix(env: &Env) -> CheckResult {
    let (s, m) = matrix_setup(env, "matrix")?;
    let ctx = ctx(&m.policy)?;
    let ran = s.run(env)?;
    let mut errs = Vec::new();
    let mut total = 0;
    for (c, steps) in &m.scripts {
        total += steps.len();
        if let Err(e) = compare(
            c,
            steps,
            &[],
            &matrix_wants(&ctx, c, steps),
            &ran.outcomes(c)?,
        ) {
            errs.push(e);
        }
    }
    if errs.is_empty() {
        Ok(format!(
            "{total} calls under a random policy (seed {}) all got the expected codes",
            env.seed
        ))
    } else {
        Err(format!(
            "policy of this run (seed {}):\n{}\n{}",
            env.seed,
            m.policy.trim_end(),
            errs.join("\n")
        ))
    }
}

fn field<'a>(v: &'a serde_json::Value, k: &str) -> &'a serde_json::Value {
    &v[k]
}

/// The audit log has one line per decision, and each client's lines match its calls in order.
pub fn audit(env: &Env) -> CheckResult {
    let (mut s, mut m) = matrix_setup(env, "audit")?;
    // A forger too: its lines must carry its own name, whatever it claims.
    s.policy.push_str("call mallory Calc.Add\n");
    m.policy = s.policy.clone();
    let msteps = vec![
        forged(
            "srv-mallory",
            "Calc.Add",
            &["1".into(), "2".into()],
            "alice",
        ),
        forged("srv-mallory", "Admin.Reset", &[], "alice"),
    ];
    s.client(env, "mallory", &msteps)?;
    m.scripts.push(("mallory", msteps));
    let ran = s.run(env)?;
    let lines = ran.json_lines("audit.jsonl")?;
    let mut errs = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        for k in [
            "time_ms", "dir", "from", "to", "riid", "mid", "verdict", "code", "reason",
        ] {
            if l.get(k).is_none() {
                errs.push(format!("audit line {} has no `{k}`: {l}", i + 1));
            }
        }
        if errs.len() > 3 {
            break;
        }
    }
    // What happened is what the clients saw: the log must tell the same story, whatever the
    // policy decided (this check is about the record, not the decisions).
    let mut expected_total = 0;
    for (c, steps) in &m.scripts {
        let seen = ran.outcomes(c)?;
        let mut want = Vec::new();
        for (i, st) in steps.iter().enumerate() {
            let code = seen
                .iter()
                .find(|o| o.n == i)
                .map_or(codes::ETIMEOUT, |o| o.code);
            let b = bytes_of(st, c);
            let h = wire::peek(&b);
            let (riid, mid) = (h.as_ref().map(|h| h.riid), h.as_ref().map(|h| h.mid));
            let call_code = if code == codes::EWITHHELD { 0 } else { code };
            let verdict = if call_code == 0 { "allow" } else { "deny" };
            want.push(serde_json::json!({"dir": "call", "from": c, "to": "server", "riid": riid, "mid": mid, "verdict": verdict, "code": call_code}));
            if code == 0 {
                want.push(serde_json::json!({"dir": "reply", "from": "server", "to": c, "riid": riid, "mid": mid, "verdict": "allow", "code": 0}));
            } else if code == codes::EWITHHELD {
                want.push(serde_json::json!({"dir": "reply", "from": "server", "to": c, "riid": riid, "mid": mid, "verdict": "deny"}));
            }
        }
        expected_total += want.len();
        let mine: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| {
                (field(l, "dir") == "call" && field(l, "from") == *c)
                    || (field(l, "dir") == "reply" && field(l, "to") == *c)
            })
            .collect();
        for (k, w) in want.iter().enumerate() {
            let Some(g) = mine.get(k) else {
                errs.push(format!("{c}: the audit log has {} line(s) about it, {} expected; the first missing: {w}", mine.len(), want.len()));
                break;
            };
            let bad = w
                .as_object()
                .is_some_and(|o| o.iter().any(|(key, val)| field(g, key) != val));
            if bad {
                errs.push(format!(
                    "{c}: audit entry {} about it is {g}, expected (at least) {w}",
                    k + 1
                ));
                break;
            }
        }
        if mine.len() > want.len() && !errs.iter().any(|e| e.starts_with(*c)) {
            errs.push(format!(
                "{c}: the audit log has {} line(s) about it, {} expected",
                mine.len(),
                want.len()
            ));
        }
    }
    if errs.is_empty() && lines.len() != expected_total {
        errs.push(format!(
            "the audit log has {} lines, {} decisions were made",
            lines.len(),
            expected_total
        ));
    }
    if errs.is_empty() {
        Ok(format!(
            "{} audit lines match the decisions, entry by entry",
            lines.len()
        ))
    } else {
        errs.truncate(6);
        Err(errs.join("\n"))
    }
}

/// A hostile server's bad replies are refused on their way back: its Reply() gets the code,
/// the caller gets EWITHHELD, never the bad bytes.
pub fn reply(env: &Env) -> CheckResult {
    let mut s = Setup::new(env, "reply")?;
    s.policy = "call alice *\nreply server Calc.*\nreply server Store.Put\nreply server Store.Get where value <= 1000000\nreply server Admin.Reset\n".into();
    let steps = vec![
        call("srv-alice", "Calc.Add", &["2".into(), "3".into()]),
        call("srv-alice", "Calc.Div", &["8".into(), "2".into()]),
        call("srv-alice", "Store.Put", &["k".into(), "1".into()]),
        call("srv-alice", "Store.Get", &["k".into()]),
        call("srv-alice", "Admin.Stats", &[]),
        call("srv-alice", "Admin.Reset", &[]),
    ];
    let labels = [
        "Calc.Add answered with 8 result bytes (4 expected)",
        "Calc.Div answered with a 600-byte reply",
        "Store.Put answered as if it were Calc.Add",
        "Store.Get answered with value 4000000000 (policy: value <= 1000000)",
        "Admin.Stats answered (no reply rule allows it)",
        "Admin.Reset answered once for a call that does not exist, then correctly",
    ];
    let labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
    s.programs.push(crate::proto::solution::ProgramSpec {
        name: "server".into(),
        command: vec![
            env.tool("monitor-hostile"),
            "--log".into(),
            s.path("server.log"),
        ],
        daemon: true,
        stdout: None,
        uid: None,
        gid: None,
    });
    s.client(env, "alice", &steps)?;
    let ran = s.run(env)?;
    let w = |code| Want {
        code,
        status: None,
        results: None,
    };
    let wants = vec![
        w(codes::EWITHHELD),
        w(codes::EWITHHELD),
        w(codes::EWITHHELD),
        w(codes::EWITHHELD),
        w(codes::EWITHHELD),
        Want {
            code: 0,
            status: Some(0),
            results: Some(vec![]),
        },
    ];
    let mut errs = Vec::new();
    if let Err(e) = compare("alice", &steps, &labels, &wants, &ran.outcomes("alice")?) {
        errs.push(format!("what the caller got:\n{e}"));
    }
    let replied: Vec<u64> = ran
        .json_lines("server.log")?
        .iter()
        .filter(|l| l["event"] == "replied")
        .map(|l| l["code"].as_u64().unwrap_or(999))
        .collect();
    let want_codes = [
        codes::EBADSIZE,
        codes::EOVERSIZED,
        codes::ENOCALL,
        codes::EDENIED,
        codes::EDENIED,
        codes::ENOCALL,
        codes::OK,
    ];
    let want_codes: Vec<u64> = want_codes.iter().map(|&c| u64::from(c)).collect();
    if replied != want_codes {
        let show = |v: &[u64]| {
            v.iter()
                .map(|&c| code_str(u32::try_from(c).unwrap_or(999)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        errs.push(format!(
            "what the hostile server's Reply() returned: {}\n  expected: {}",
            show(&replied),
            show(&want_codes)
        ));
    }
    if errs.is_empty() {
        Ok("6 hostile replies refused with the right codes on both sides".into())
    } else {
        Err(errs.join("\n"))
    }
}

/// A client that writes another program's name in the header gets exactly what its own
/// rights give it.
pub fn forge(env: &Env) -> CheckResult {
    let mut r = Rng::new(env.seed ^ 0xf0f0);
    let mut s = Setup::new(env, "forge")?;
    let mut policy = String::from("call alice *\ncall server *\n");
    let mut granted = vec!["Calc.Add"];
    for m in &METHODS[1..] {
        if r.chance(1, 3) {
            granted.push(m);
        }
    }
    for m in &granted {
        policy.push_str(&format!("call mallory {m}\n"));
    }
    policy.push_str("reply server *\n");
    s.policy = policy.clone();
    let ctx = ctx(&policy)?;
    let args = |m: &str| -> Vec<String> {
        match m {
            "Calc.Add" | "Calc.Div" => vec!["6".into(), "3".into()],
            "Store.Put" => vec!["stolen".into(), "1".into()],
            "Store.Get" => vec!["stolen".into()],
            _ => vec![],
        }
    };
    let mut steps = Vec::new();
    for m in METHODS {
        steps.push(forged("srv-mallory", m, &args(m), "alice"));
        steps.push(forged("srv-mallory", m, &args(m), "server"));
        steps.push(call("srv-mallory", m, &args(m)));
    }
    s.server(server_cmd(env, &s, &[]));
    s.client(env, "alice", &[call("srv-alice", "Admin.Stats", &[])])?;
    s.client(env, "mallory", &steps)?;
    let ran = s.run(env)?;
    let wants: Vec<Want> = steps
        .iter()
        .map(|st| Want {
            code: expected_code(&ctx, "mallory", st),
            status: None,
            results: None,
        })
        .collect();
    let mut errs = Vec::new();
    if let Err(e) = compare("mallory", &steps, &[], &wants, &ran.outcomes("mallory")?) {
        errs.push(format!(
            "mallory may call only {}:\n{e}",
            granted.join(", ")
        ));
    }
    if let Err(e) = compare(
        "alice",
        &[],
        &["Admin.Stats()".into()],
        &[Want {
            code: 0,
            status: Some(0),
            results: None,
        }],
        &ran.outcomes("alice")?,
    ) {
        errs.push(e);
    }
    let from_mallory = arrivals(&ran)?
        .iter()
        .filter(|l| l["channel"] == "srv-mallory")
        .count();
    let allowed = wants.iter().filter(|w| w.code == 0).count();
    if from_mallory != allowed {
        errs.push(format!("{from_mallory} of mallory's requests reached the server; her own rights allow {allowed}"));
    }
    if errs.is_empty() {
        Ok(format!(
            "{} forged calls got exactly mallory's own rights",
            steps.len() * 2 / 3
        ))
    } else {
        Err(errs.join("\n"))
    }
}

fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the name: state is [0]; utime is field 14 overall = [11], stime [12].
    let t = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    Ok(t(11) + t(12))
}

/// While the server holds a request, neither the blocked caller nor the monitor uses CPU.
pub fn blocking(env: &Env) -> CheckResult {
    let mut s = Setup::new(env, "blocking")?;
    s.policy = "call alice *\nreply server *\n".into();
    let notify = s.dir.join("held.fifo");
    let release = s.dir.join("release.fifo");
    for p in [&notify, &release] {
        rustix::fs::mkfifoat(rustix::fs::CWD, p, rustix::fs::Mode::from_raw_mode(0o666))
            .map_err(|e| format!("mkfifo: {e}"))?;
    }
    let (n, rl) = (notify.display().to_string(), release.display().to_string());
    s.server(server_cmd(
        env,
        &s,
        &["--hold-notify", &n, "--hold-release", &rl],
    ));
    s.client(
        env,
        "alice",
        &[call("srv-alice", "Calc.Add", &["20".into(), "22".into()])],
    )?;
    let sol = s.write()?;
    // Our ends of both FIFOs, opened before anything starts: the notify FIFO for reading
    // (non-blocking, so the open cannot hang) and the release FIFO read-write (so the
    // server's open for reading never waits for us and our later write never blocks).
    let nonblock = i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0);
    let mut nf = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nonblock)
            .open(&notify)
            .map_err(|e| format!("{}: {e}", notify.display()))?
    };
    let mut rf = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&release)
        .map_err(|e| format!("{}: {e}", release.display()))?;
    let mut child = crate::harness::start_monitor(&env.monitor, &sol, &s.dir)?;
    let pgid = rustix::process::Pid::from_child(&child);
    let outcome = (|| -> CheckResult {
        let mut buf = [0u8; 8];
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ready =
                crate::proto::channel::wait_any(&[std::os::fd::AsFd::as_fd(&nf)], Some(left))
                    .map_err(|e| e.to_string())?;
            if !ready[0] {
                return Err("the server never received the request within 10 s (the call did not get through)".into());
            }
            match nf.read(&mut buf) {
                Ok(n) if n > 0 => break,
                Ok(_) => return Err("the server closed the notify FIFO without a word".into()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
        let client_pid: u32 = std::fs::read_to_string(s.dir.join("alice.pid"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or("the client's pid file is missing")?;
        let mon_pid = child.id();
        let before = (cpu_ticks(mon_pid)?, cpu_ticks(client_pid)?);
        // A measurement window, not a synchronisation: both are already blocked.
        std::thread::sleep(Duration::from_millis(300));
        let after = (cpu_ticks(mon_pid)?, cpu_ticks(client_pid)?);
        rf.write_all(b"go\n").map_err(|e| e.to_string())?;
        let (dm, dc) = (after.0 - before.0, after.1 - before.1);
        // 300 ms = 30 ticks at 100 Hz; a spinning process would use nearly all of them.
        if dm > 3 || dc > 3 {
            return Err(format!(
                "while the server held the call for 300 ms the monitor used {dm} and the caller {dc} CPU ticks (10 ms each): something polls instead of blocking"
            ));
        }
        Ok(format!(
            "monitor {dm} and caller {dc} CPU ticks in 300 ms of a held call"
        ))
    })();
    let ended = outcome.is_ok() && crate::harness::wait_deadline(&child, Duration::from_secs(10));
    let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    let _ = child.wait();
    let summary = outcome?;
    if !ended {
        return Err("after the server answered, the solution did not finish within 10 s".into());
    }
    let got = script::read_outcomes(&s.dir.join("alice.out"))?;
    if got.first().map(|o| (o.code, o.results.clone()))
        != Some((0, Some(vec![serde_json::json!(42)])))
    {
        return Err(format!(
            "after release, Calc.Add(20, 22) should give 42; got {got:?}"
        ));
    }
    Ok(summary)
}

/// The student's server answers Calc correctly through a monitor.
pub fn server(env: &Env) -> CheckResult {
    let prog = env
        .program
        .as_ref()
        .ok_or("--program (the student's server) is required")?;
    let mut r = Rng::new(env.seed);
    let mut s = Setup::new(env, "server")?;
    s.policy = "call alice Calc.*\nreply server Calc.*\n".into();
    let n = |x: u32| x.to_string();
    let mut steps = Vec::new();
    for _ in 0..4 {
        steps.push(call(
            "srv-alice",
            "Calc.Add",
            &[n(r.range(0, 1 << 30)), n(r.range(0, 1 << 30))],
        ));
        steps.push(call(
            "srv-alice",
            "Calc.Div",
            &[n(r.range(0, 1 << 30)), n(r.range(1, 1000))],
        ));
    }
    steps.push(call(
        "srv-alice",
        "Calc.Div",
        &[n(r.range(0, 100)), "0".into()],
    ));
    steps.push(call("srv-alice", "Calc.Add", &[n(u32::MAX), "1".into()]));
    s.server(vec![prog.display().to_string()]);
    s.client(env, "alice", &steps)?;
    let ran = s.run(env)?;
    let mut store = HashMap::new();
    let wants: Vec<Want> = steps
        .iter()
        .map(|st| match st {
            Step::Call { method, args, .. } => {
                let (status, results) = model(&mut store, method, args);
                Want {
                    code: 0,
                    status: Some(status),
                    results,
                }
            }
            Step::Raw { .. } | Step::Connect { .. } => Want {
                code: 0,
                status: None,
                results: None,
            },
        })
        .collect();
    compare(
        "the lab's client",
        &steps,
        &[],
        &wants,
        &ran.outcomes("alice")?,
    )?;
    Ok(format!(
        "your server answered {} Calc calls correctly (overflow and division by zero give status 100)",
        steps.len()
    ))
}

/// The student's client prints the documented lines.
pub fn client(env: &Env) -> CheckResult {
    let prog = env
        .program
        .as_ref()
        .ok_or("--program (the student's client) is required")?;
    let mut r = Rng::new(env.seed);
    let (a, b) = (r.range(0, 100_000), r.range(1, 1000));
    let mut s = Setup::new(env, "client")?;
    s.policy = "call alice Calc.*\nreply server Calc.*\n".into();
    s.server(server_cmd(env, &s, &[]));
    s.programs.push(crate::proto::solution::ProgramSpec {
        name: "alice".into(),
        command: vec![prog.display().to_string(), a.to_string(), b.to_string()],
        daemon: false,
        stdout: Some("alice.stdout".into()),
        uid: None,
        gid: None,
    });
    s.channel("calc", "alice");
    let ran = s.run(env)?;
    let got = std::fs::read_to_string(ran.dir.join("alice.stdout")).unwrap_or_default();
    let want = format!("add({a}, {b}) = {}\ndiv({a}, {b}) = {}\n", a + b, a / b);
    if got != want {
        return Err(format!(
            "`client {a} {b}` should print exactly\n{want}but printed\n{got}"
        ));
    }
    Ok(format!("client {a} {b} printed both lines"))
}

/// Dynamic channels: a program with no static channel asks the monitor for one; the policy's
/// `connect` rules decide, and a bad request gets its exact code.
pub fn dynamic(env: &Env) -> CheckResult {
    let mut s = Setup::new(env, "dynamic")?;
    s.policy =
        "connect alice server\ncall alice Calc.Add\ncall bob Calc.Add\nreply server *\n".into();
    s.server(server_cmd(env, &s, &[]));
    let conn = |server: &str, channel: &str| Step::Connect {
        server: server.into(),
        channel: channel.into(),
    };
    let alice = vec![
        conn("server", "dyn-alice"),
        call("dyn-alice", "Calc.Add", &["2".into(), "3".into()]),
        conn("server", "dyn-alice"),
        conn("nobody", "dyn-x"),
        conn("alice", "dyn-self"),
    ];
    let bob = vec![conn("server", "dyn-bob")];
    s.client_only(env, "alice", &alice)?;
    s.client_only(env, "bob", &bob)?;
    let ran = s.run(env)?;
    let w = |code| Want {
        code,
        status: None,
        results: None,
    };
    let mut errs = Vec::new();
    let want_alice = vec![
        w(codes::OK),
        Want {
            code: 0,
            status: Some(0),
            results: Some(vec![serde_json::json!(5)]),
        },
        w(codes::EBADFIELD),
        w(codes::ENOENDPOINT),
        w(codes::EDENIED),
    ];
    let labels: Vec<String> = [
        "connect to server as dyn-alice (allowed)",
        "Calc.Add(2, 3) on the new channel",
        "connect again with the same channel name",
        "connect to a program that does not exist",
        "connect to itself",
    ]
    .iter()
    .map(|l| (*l).to_owned())
    .collect();
    if let Err(e) = compare(
        "alice",
        &alice,
        &labels,
        &want_alice,
        &ran.outcomes("alice")?,
    ) {
        errs.push(e);
    }
    let bl = vec!["connect to server without a connect rule".to_owned()];
    if let Err(e) = compare(
        "bob",
        &bob,
        &bl,
        &[w(codes::EDENIED)],
        &ran.outcomes("bob")?,
    ) {
        errs.push(e);
    }
    let arrived = arrivals(&ran)?;
    if arrived.len() != 1 || arrived[0]["channel"] != "dyn-alice" {
        errs.push(format!(
            "the server should have seen exactly one request, on dyn-alice; its log: {arrived:?}"
        ));
    }
    if errs.is_empty() {
        Ok("a dynamic channel was granted, used, and refused where the policy says".into())
    } else {
        Err(errs.join("\n"))
    }
}

/// Runs the check named `what`.
pub fn run(what: &str, env: &Env) -> Option<CheckResult> {
    Some(match what {
        "methods" => methods(env),
        "corpus" => corpus(env),
        "matrix" => matrix(env),
        "audit" => audit(env),
        "reply" => reply(env),
        "forge" => forge(env),
        "blocking" => blocking(env),
        "server" => server(env),
        "client" => client(env),
        "dynamic" => dynamic(env),
        _ => return None,
    })
}

/// Every check name, in report order.
pub const ALL: [&str; 10] = [
    "methods", "corpus", "matrix", "audit", "reply", "forge", "blocking", "server", "client",
    "dynamic",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_codes_agree_with_the_model() {
        let ctx = ctx("call alice *\n").expect("policy");
        for c in corpus::cases("alice") {
            let st = Step::Raw {
                channel: "srv-alice".into(),
                bytes: c.bytes.clone(),
            };
            assert_eq!(expected_code(&ctx, "alice", &st), c.code, "{}", c.name);
            let want_bob = if c.is_control { codes::EDENIED } else { c.code };
            assert_eq!(expected_code(&ctx, "bob", &st), want_bob, "{}", c.name);
        }
    }

    #[test]
    fn matrix_differs_per_seed_and_parses() {
        let a = matrix_for(1);
        let b = matrix_for(2);
        assert_ne!(a.policy, b.policy);
        for seed in 0..50 {
            ctx(&matrix_for(seed).policy).expect("generated policy parses");
        }
    }
}
