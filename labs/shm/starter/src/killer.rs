//! `server_killer N`, the naive way: add N to the table's kill counter.
//!
//! TODO (handout: 4.7 Only the owner stops the server): anyone who can map the table can do it.

use crate::table::Table;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

pub fn main_with_args(args: &[String]) -> ExitCode {
    let n = match args {
        [n] => match n.parse::<i32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                eprintln!("server_killer: N must be a whole number of at least 1, not `{n}`");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: server_killer N   (stop N of the server's worker threads)");
            return ExitCode::from(2);
        }
    };
    match Table::open() {
        Ok(t) => {
            t.kill_requests().fetch_add(n, Ordering::AcqRel);
            println!("asked the server to stop {n} worker thread(s)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("server_killer: no server: {e}");
            ExitCode::from(3)
        }
    }
}
