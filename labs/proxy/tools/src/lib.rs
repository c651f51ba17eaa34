//! Lab `proxy`: shared code of the lab's tool programs: the wire format, the reference key-value
//! server and client, the log formats, fault plans, policies, the trace comparison, the grader's
//! checkers and the benchmark. The student's proxy is not here: it is the submission's program.

pub mod allowlist;
pub mod bench;
pub mod check;
pub mod cli;
pub mod client;
pub mod diff;
pub mod frame;
pub mod kvstore;
pub mod plan;
pub mod rng;
pub mod seqpacket;
pub mod server;
pub mod trace;
