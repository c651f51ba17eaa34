//! `server`: serves the lab's Calc endpoint (Add, Div) through the channels its monitor gave
//! it (handout 1.6). Overflow and division by zero answer status 100 (APP_FAILED); anything
//! it cannot decode answers status 102 (APP_BADREQUEST). It names callers by channel.

use std::process::ExitCode;

use ipcmon::channel::Ends;
use ipcmon::codes;
use ipcmon::idl::{self, Idl, Value};

fn answer(idl: &Idl, riid: u32, mid: u32, payload: &[u8]) -> (u32, Vec<u8>) {
    let Some(method) = idl.endpoint(riid).and_then(|e| e.method(mid)) else {
        return (codes::APP_BADREQUEST, Vec::new());
    };
    let zeros = vec![0u8; method.output_size()];
    let args = match idl::decode(&method.inputs, payload) {
        Ok(a) => a,
        Err(_) => return (codes::APP_BADREQUEST, zeros),
    };
    let (Some((_, Value::U32(a))), Some((_, Value::U32(b)))) = (args.first(), args.get(1)) else {
        return (codes::APP_BADREQUEST, zeros);
    };
    let result = match (riid, method.name.as_str()) {
        (1, "Add") => a.checked_add(*b),
        (1, "Div") => a.checked_div(*b),
        _ => return (codes::APP_BADREQUEST, zeros),
    };
    match result {
        Some(r) => (codes::APP_OK, r.to_le_bytes().to_vec()),
        None => (codes::APP_FAILED, zeros),
    }
}

fn main() -> ExitCode {
    let idl = match std::env::var("IPCMON_IDL").map(|p| Idl::load(std::path::Path::new(&p))) {
        Ok(Ok(idl)) => idl,
        Ok(Err(e)) => {
            eprintln!("server: {e}");
            return ExitCode::from(2);
        }
        Err(_) => {
            eprintln!("server: IPCMON_IDL is not set: start me through a monitor");
            return ExitCode::from(2);
        }
    };
    let mut ends = match Ends::from_env() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("server: {e}");
            return ExitCode::from(2);
        }
    };
    let mut server = ends.server();
    // Until every channel has closed (recv then says EGONE) or the monitor stops us.
    while let Ok(req) = server.recv() {
        let (status, results) = answer(&idl, req.header.riid, req.header.mid, &req.payload);
        if let Err(code) = server.reply(&req, status, &results) {
            eprintln!(
                "server: reply on {} refused: {}",
                req.channel,
                codes::name(code)
            );
        }
    }
    ExitCode::SUCCESS
}
