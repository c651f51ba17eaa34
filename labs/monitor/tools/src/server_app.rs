//! The lab's servers: the reference server of the lab's interface (Calc, Store, Admin), its
//! hostile twin that answers wrongly on purpose, and a holding mode that keeps its first
//! request until released (to watch a blocked caller). Each logs every request that reaches
//! it, so a checker can prove that a refused message never arrived.
//!
//! A server here must never trust a request's size or sender: it checks the size again and
//! names callers by the channel a request came on.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;

use crate::proto::channel::{Ends, Request, Server};
use crate::proto::codes;
use crate::proto::idl::{self, Idl, Value};
use crate::proto::wire::{self, Header, Kind, MAX_MESSAGE};

/// How the server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Correct answers.
    Honest,
    /// Misbehaves differently for each method (see `hostile_reply`).
    Hostile,
}

/// Server options.
#[derive(Debug, Clone)]
pub struct Config {
    /// Behaviour.
    pub mode: Mode,
    /// JSON-lines log of arrivals and reply outcomes.
    pub log: Option<PathBuf>,
    /// FIFO to write `held` to when the first request arrives, and FIFO to read the release
    /// from before answering it.
    pub hold: Option<(PathBuf, PathBuf)>,
}

/// The value that the hostile server's Store.Get returns (over the lab policies' limit).
pub const HOSTILE_VALUE: u32 = 4_000_000_000;

struct Log(Option<std::fs::File>);

impl Log {
    fn write(&mut self, v: serde_json::Value) {
        if let Some(f) = self.0.as_mut() {
            let mut line = v.to_string().into_bytes();
            line.push(b'\n');
            let _ = f.write_all(&line);
        }
    }
}

/// The honest results of a request: (status, encoded results).
fn honest(
    idl: &Idl,
    store: &mut HashMap<String, u32>,
    calls: &mut u32,
    req: &Request,
) -> (u32, Vec<u8>) {
    *calls = calls.wrapping_add(1);
    let Some((ep, m)) = idl
        .endpoint(req.header.riid)
        .and_then(|e| e.method(req.header.mid).map(|m| (e, m)))
    else {
        return (codes::APP_BADREQUEST, Vec::new());
    };
    let zeros = vec![0u8; m.output_size()];
    let Ok(args) = idl::decode(&m.inputs, &req.payload) else {
        return (codes::APP_BADREQUEST, zeros);
    };
    let u = |i: usize| match args.get(i) {
        Some((_, Value::U32(x))) => *x,
        _ => 0,
    };
    let s = |i: usize| match args.get(i) {
        Some((_, Value::Str(x))) => x.clone(),
        _ => String::new(),
    };
    let out = |v: Vec<Value>| idl::encode(&m.outputs, &v).unwrap_or_default();
    match (ep.name.as_str(), m.name.as_str()) {
        ("Calc", "Add") => match u(0).checked_add(u(1)) {
            Some(sum) => (codes::APP_OK, out(vec![Value::U32(sum)])),
            None => (codes::APP_FAILED, zeros),
        },
        ("Calc", "Div") => match u(0).checked_div(u(1)) {
            Some(q) => (codes::APP_OK, out(vec![Value::U32(q)])),
            None => (codes::APP_FAILED, zeros),
        },
        ("Store", "Put") => {
            store.insert(format!("{}/{}", req.channel, s(0)), u(1));
            (codes::APP_OK, out(vec![]))
        }
        ("Store", "Get") => match store.get(&format!("{}/{}", req.channel, s(0))) {
            Some(v) => (codes::APP_OK, out(vec![Value::U32(*v)])),
            None => (codes::APP_NOKEY, zeros),
        },
        ("Admin", "Stats") => (codes::APP_OK, out(vec![Value::U32(*calls)])),
        ("Admin", "Reset") => {
            *calls = 0;
            (codes::APP_OK, out(vec![]))
        }
        _ => (codes::APP_BADREQUEST, zeros),
    }
}

fn reply_bytes(req: &Request, status: u32, results: &[u8]) -> Vec<u8> {
    let mut h = Header::new(Kind::Reply, req.header.riid, req.header.mid, "");
    h.tag = req.header.tag;
    h.status = status;
    wire::encode(&h, results)
}

/// The hostile server's replies for `req`, in the order it sends them.
pub fn hostile_replies(req: &Request) -> Vec<Vec<u8>> {
    let (riid, mid) = (req.header.riid, req.header.mid);
    match (riid, mid) {
        // Calc.Add: results of the wrong size.
        (1, 1) => vec![reply_bytes(req, 0, &[1, 0, 0, 0, 2, 0, 0, 0])],
        // Calc.Div: an oversized reply.
        (1, 2) => vec![reply_bytes(
            req,
            0,
            &vec![7u8; MAX_MESSAGE + 100 - wire::HEADER_LEN],
        )],
        // Store.Put: answers as if the call had been Calc.Add.
        (2, 1) => {
            let mut h = Header::new(Kind::Reply, 1, 1, "");
            h.tag = req.header.tag;
            vec![wire::encode(&h, &5u32.to_le_bytes())]
        }
        // Store.Get: a value the reply policy forbids.
        (2, 2) => vec![reply_bytes(req, 0, &HOSTILE_VALUE.to_le_bytes())],
        // Admin.Stats: a well-formed reply no rule lets this server give.
        (3, 1) => vec![reply_bytes(req, 0, &1u32.to_le_bytes())],
        // Admin.Reset: first a reply to a call that does not exist, then the right one.
        (3, 2) => {
            let mut bogus = reply_bytes(req, 0, &[]);
            wire::set_tag(&mut bogus, req.header.tag.wrapping_add(1000));
            vec![bogus, reply_bytes(req, 0, &[])]
        }
        _ => vec![reply_bytes(req, codes::APP_BADREQUEST, &[])],
    }
}

fn hold(notify: &PathBuf, release: &PathBuf) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(notify)?
        .write_all(b"held\n")?;
    let mut buf = [0u8; 16];
    let _ = std::fs::File::open(release)?.read(&mut buf)?;
    Ok(())
}

/// Serves until every channel has closed or the process is stopped.
pub fn run(cfg: &Config) -> Result<(), String> {
    let idl_path = std::env::var("IPCMON_IDL")
        .map_err(|_| "IPCMON_IDL is not set: start me through a monitor".to_owned())?;
    let idl = Idl::load(std::path::Path::new(&idl_path)).map_err(|e| e.to_string())?;
    let mut ends = Ends::from_env().map_err(|e| e.to_string())?;
    let mut server: Server = ends.server();
    let mut log = Log(match &cfg.log {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("{}: {e}", p.display()))?,
        ),
        None => None,
    });
    let mut store = HashMap::new();
    let mut calls = 0u32;
    let mut held = cfg.hold.is_none();
    loop {
        let req = match server.recv() {
            Ok(r) => r,
            Err(_) => return Ok(()),
        };
        log.write(serde_json::json!({
            "event": "arrived", "channel": req.channel, "riid": req.header.riid,
            "mid": req.header.mid, "tag": req.header.tag, "len": req.payload.len(),
            "sender": req.header.sender_name(),
        }));
        if !held {
            held = true;
            if let Some((n, r)) = &cfg.hold {
                hold(n, r).map_err(|e| format!("hold: {e}"))?;
            }
        }
        let replies = match cfg.mode {
            Mode::Honest => {
                let (status, results) = honest(&idl, &mut store, &mut calls, &req);
                vec![reply_bytes(&req, status, &results)]
            }
            Mode::Hostile => hostile_replies(&req),
        };
        for r in replies {
            let code = match server.reply_raw(req.end, &r) {
                Ok(()) => codes::OK,
                Err(c) => c,
            };
            log.write(serde_json::json!({
                "event": "replied", "channel": req.channel, "riid": req.header.riid,
                "mid": req.header.mid, "code": code,
            }));
        }
    }
}
