//! Lab `monitor`: the programs the lab ships to the grader (reference server, hostile server,
//! scripted clients, checkers, benchmark) and the library they share with submissions.
//!
//! `proto` is byte-for-byte the submissions' `ipcmon` library (a test keeps the copies equal);
//! everything else here is the lab's own, outside any submission.

pub mod proto;

pub mod bench;
pub mod checks;
pub mod cli;
pub mod corpus;
pub mod harness;
pub mod oracle;
pub mod rng;
pub mod script;
pub mod server_app;
