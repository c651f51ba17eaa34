//! `client A B`: calls Calc.Add and Calc.Div with A and B on the channel named `calc` and
//! prints `add(A, B) = S` and `div(A, B) = Q` (handout 1.7). A refused call prints
//! `add(A, B) failed: NAME (code)` and the exit status is 1; bad arguments exit 2.

use std::process::ExitCode;

use ipcmon::channel::{Client, Ends};
use ipcmon::codes;

fn calc(c: &Client, mid: u32, name: &str, a: u32, b: u32) -> bool {
    let mut args = a.to_le_bytes().to_vec();
    args.extend_from_slice(&b.to_le_bytes());
    match c.call(1, mid, &args) {
        Ok(r) if r.status == codes::APP_OK && r.payload.len() == 4 => {
            let v = u32::from_le_bytes([r.payload[0], r.payload[1], r.payload[2], r.payload[3]]);
            println!("{name}({a}, {b}) = {v}");
            true
        }
        Ok(r) => {
            println!("{name}({a}, {b}) failed: status {}", r.status);
            false
        }
        Err(code) => {
            println!("{name}({a}, {b}) failed: {} ({code})", codes::name(code));
            false
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let nums: Vec<u32> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let [a, b] = nums[..] else {
        eprintln!("usage: client A B   (two numbers from 0 to 4294967295)");
        return ExitCode::from(2);
    };
    if args.len() != 2 {
        eprintln!("usage: client A B   (two numbers from 0 to 4294967295)");
        return ExitCode::from(2);
    }
    let client = match Ends::from_env().and_then(|mut e| e.client("calc")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("client: {e}");
            return ExitCode::from(2);
        }
    };
    let ok = calc(&client, 1, "add", a, b) & calc(&client, 2, "div", a, b);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
