//! `mallory NAME`: a hostile client, given complete (handout 3.2). On its one channel it
//! calls Calc.Add(1, 2) honestly, then Admin.Stats and Admin.Reset with NAME written in the
//! header's sender field, and prints what each call gave. Exit 0 unless it cannot start.

use std::process::ExitCode;

use ipcmon::channel::{Client, Ends};
use ipcmon::codes;

fn show(label: &str, r: Result<ipcmon::channel::Reply, u32>) {
    match r {
        Ok(reply) => println!("mallory: {label}: delivered, status {}", reply.status),
        Err(code) => println!("mallory: {label}: refused, {} ({code})", codes::name(code)),
    }
}

fn main() -> ExitCode {
    let claim = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "alice".to_owned());
    let client: Client = match Ends::from_env().and_then(|mut e| {
        let name = e
            .clients
            .first()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        e.client(&name)
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mallory: {e}");
            return ExitCode::from(2);
        }
    };
    let mut add = 1u32.to_le_bytes().to_vec();
    add.extend_from_slice(&2u32.to_le_bytes());
    show("Calc.Add(1, 2) as myself", client.call(1, 1, &add));
    show(
        &format!("Admin.Stats() claiming to be {claim}"),
        client.call_as(&claim, 3, 1, &[], None),
    );
    show(
        &format!("Admin.Reset() claiming to be {claim}"),
        client.call_as(&claim, 3, 2, &[], None),
    );
    ExitCode::SUCCESS
}
