//! Command lines of the lab's binaries: argument parsing, exit codes, printing. Each submodule
//! is one binary's `main`; the work itself lives in the library modules, never here.

pub mod bench;
pub mod check;
pub mod kvclient;
pub mod trace;
