//! Scripted clients: a script is a list of calls (well-formed, forged or raw bytes) a
//! `monitor-client` makes through its monitor, and the outcomes it writes, one JSON line per
//! call. Checkers write the scripts and read the outcomes.
//!
//! ```text
//! call srv-alice Calc.Add 2 3            # arguments in the method's field order
//! call srv-alice Store.Put k1 7 as=bob   # writes `bob` in the header's sender field
//! raw  srv-alice 49504d4301000000...     # any bytes, hex
//! connect server dyn-alice               # a dynamic channel (then `call dyn-alice ...`)
//! ```
//! Every call has a deadline, so a client never waits forever on a broken monitor.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::proto::channel::{Client, Ends};
use crate::proto::codes;
use crate::proto::idl::{self, Idl, Value};

/// One line of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A well-formed call.
    Call {
        /// Channel name.
        channel: String,
        /// `Endpoint.Method`.
        method: String,
        /// Arguments, as written.
        args: Vec<String>,
        /// Sender name to claim (default: the program's own).
        claim: Option<String>,
    },
    /// Ask the monitor for a dynamic channel named `channel` to program `server`.
    Connect {
        /// The program that is to hold the server end.
        server: String,
        /// The new channel's name (later steps use it).
        channel: String,
    },
    /// Raw bytes.
    Raw {
        /// Channel name.
        channel: String,
        /// The message.
        bytes: Vec<u8>,
    },
}

impl Step {
    /// The script line for this step.
    pub fn to_line(&self) -> String {
        match self {
            Step::Call {
                channel,
                method,
                args,
                claim,
            } => {
                let mut s = format!("call {channel} {method}");
                for a in args {
                    s.push(' ');
                    s.push_str(a);
                }
                if let Some(c) = claim {
                    s.push_str(" as=");
                    s.push_str(c);
                }
                s
            }
            Step::Raw { channel, bytes } => format!("raw {channel} {}", hex(bytes)),
            Step::Connect { server, channel } => format!("connect {server} {channel}"),
        }
    }
}

/// What one call gave.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Outcome {
    /// 0-based step index.
    pub n: usize,
    /// 0 = a reply came back; else the code from Call().
    pub code: u32,
    /// The reply's application status.
    pub status: Option<u32>,
    /// The reply's results, when they decode as the method's results.
    pub results: Option<Vec<serde_json::Value>>,
    /// The reply's payload, hex.
    pub payload: String,
}

/// Bytes as lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parses a script.
pub fn parse(text: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            [] => {}
            [first, ..] if first.starts_with('#') => {}
            ["connect", server, channel] => out.push(Step::Connect {
                server: (*server).to_owned(),
                channel: (*channel).to_owned(),
            }),
            ["raw", channel, bytes] => out.push(Step::Raw {
                channel: (*channel).to_owned(),
                bytes: unhex(bytes).ok_or(format!("script line {}: bad hex", i + 1))?,
            }),
            ["call", channel, method, rest @ ..] => {
                let mut args = Vec::new();
                let mut claim = None;
                for a in rest {
                    match a.strip_prefix("as=") {
                        Some(c) => claim = Some(c.to_owned()),
                        None => args.push((*a).to_owned()),
                    }
                }
                out.push(Step::Call {
                    channel: (*channel).to_owned(),
                    method: (*method).to_owned(),
                    args,
                    claim,
                });
            }
            _ => {
                return Err(format!(
                    "script line {}: expected `call ...` or `raw ...`",
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

/// A JSON value for a decoded field.
pub fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::U32(x) => serde_json::json!(x),
        Value::Str(s) => serde_json::json!(s),
    }
}

/// Encodes the arguments of `Endpoint.Method` from their script words.
pub fn encode_args(
    idl: &Idl,
    method: &str,
    args: &[String],
) -> Result<(u32, u32, Vec<u8>), String> {
    let (ep, m) = idl
        .lookup(method)
        .ok_or(format!("no method {method} in the IDL"))?;
    if args.len() != m.inputs.len() {
        return Err(format!("{method} takes {} arguments", m.inputs.len()));
    }
    let mut values = Vec::new();
    for (f, a) in m.inputs.iter().zip(args) {
        values.push(match f.ty {
            idl::Type::U32 => Value::U32(a.parse().map_err(|_| format!("`{a}` is not a u32"))?),
            idl::Type::Str(_) => Value::Str(a.clone()),
        });
    }
    let payload = idl::encode(&m.inputs, &values).map_err(|e| e.to_string())?;
    Ok((ep.id, m.id, payload))
}

/// Runs `steps` with this program's ends, writing an outcome line per step to `out`.
pub fn run(steps: &[Step], idl: &Idl, out: &Path, timeout: Duration) -> Result<(), String> {
    let mut ends = Ends::from_env().map_err(|e| e.to_string())?;
    let mut clients: Vec<Client> = Vec::new();
    let mut file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (n, step) in steps.iter().enumerate() {
        let channel = match step {
            Step::Call { channel, .. } | Step::Raw { channel, .. } => channel,
            Step::Connect { server, channel } => {
                let code = match ends.connect(server, channel) {
                    Ok(c) => {
                        clients.push(c);
                        codes::OK
                    }
                    Err(code) => code,
                };
                let o = Outcome {
                    n,
                    code,
                    status: None,
                    results: None,
                    payload: String::new(),
                };
                let mut line = serde_json::to_vec(&o).map_err(|e| e.to_string())?;
                line.push(b'\n');
                file.write_all(&line).map_err(|e| e.to_string())?;
                continue;
            }
        };
        if !clients.iter().any(|c| c.name() == channel) {
            clients.push(ends.client(channel).map_err(|e| e.to_string())?);
        }
        let client = clients
            .iter()
            .find(|c| c.name() == channel)
            .ok_or("no channel")?;
        let (result, method) = match step {
            Step::Call {
                method,
                args,
                claim,
                ..
            } => {
                let (riid, mid, payload) = encode_args(idl, method, args)?;
                let me = claim.clone().unwrap_or_else(|| ends.me.clone());
                (
                    client.call_as(&me, riid, mid, &payload, Some(timeout)),
                    idl.lookup(method),
                )
            }
            Step::Raw { bytes, .. } => (client.call_raw(bytes, Some(timeout)), None),
            Step::Connect { .. } => continue,
        };
        let o = match result {
            Ok(r) => Outcome {
                n,
                code: codes::OK,
                status: Some(r.status),
                results: method.and_then(|(_, m)| {
                    idl::decode(&m.outputs, &r.payload)
                        .ok()
                        .map(|v| v.iter().map(|(_, x)| json_value(x)).collect())
                }),
                payload: hex(&r.payload),
            },
            Err(code) => Outcome {
                n,
                code,
                status: None,
                results: None,
                payload: String::new(),
            },
        };
        let mut line = serde_json::to_vec(&o).map_err(|e| e.to_string())?;
        line.push(b'\n');
        file.write_all(&line).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Reads outcome lines.
pub fn read_outcomes(path: &Path) -> Result<Vec<Outcome>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}
