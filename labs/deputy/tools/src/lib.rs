//! Lab `deputy`: the tools the lab ships to the grader and its tests.
//!
//! - [`wire`]: fsd's request and reply lines (formatting and parsing only);
//! - [`client`]: a bounded fsd client;
//! - [`fdpass`]: passing one descriptor over a Unix socket;
//! - [`launch`]: the launcher that starts permd and fsd and connects them by inheritance;
//! - [`attack`], [`pidreuse`]: the attacks on the permissions-by-PID design;
//! - [`verdict`]: the attacks' one-line verdicts and exit codes;
//! - [`session`]: what `deputy-client` does (reads, reads around a revocation, cache size);
//! - [`bench`]: the request-latency benchmark.

pub mod attack;
pub mod bench;
pub mod client;
pub mod fdpass;
pub mod launch;
pub mod pidreuse;
pub mod session;
pub mod verdict;
pub mod wire;
