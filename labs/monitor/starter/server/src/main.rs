//! `server`: serves the lab's Calc endpoint (Add, Div) through the channels its monitor gave
//! it (handout 1.6).
//!
//! STARTER: it receives requests and answers every one with status 102 (APP_BADREQUEST).

use std::process::ExitCode;

use ipcmon::channel::Ends;
use ipcmon::codes;

fn main() -> ExitCode {
    let mut ends = match Ends::from_env() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("server: {e}");
            return ExitCode::from(2);
        }
    };
    let mut server = ends.server();
    while let Ok(req) = server.recv() {
        // TODO(1.6 Write a server): decode Add's and Div's arguments (ipcmon::idl::decode with
        // the IDL from IPCMON_IDL), answer the sum or quotient with status 0, and status 100
        // (APP_FAILED) on overflow or division by zero.
        let zeros = [0u8; 4];
        if let Err(code) = server.reply(&req, codes::APP_BADREQUEST, &zeros) {
            eprintln!("server: reply refused: {}", codes::name(code));
        }
    }
    ExitCode::SUCCESS
}
