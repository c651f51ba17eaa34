//! `client A B`: calls Calc.Add and Calc.Div with A and B on the channel named `calc` and
//! prints `add(A, B) = S` and `div(A, B) = Q` (handout 1.7).
//!
//! STARTER: it only finds its channel.

use std::process::ExitCode;

use ipcmon::channel::Ends;

fn main() -> ExitCode {
    let _client = match Ends::from_env().and_then(|mut e| e.client("calc")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("client: {e}");
            return ExitCode::from(2);
        }
    };
    // TODO(1.7 Write a client): parse A and B, call Calc.Add (riid 1, mid 1) and Calc.Div
    // (riid 1, mid 2) with _client.call(...), print the two lines.
    eprintln!("client: not written yet (handout: 1.7 Write a client)");
    ExitCode::from(1)
}
