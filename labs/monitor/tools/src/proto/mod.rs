//! The lab's IPC library, the same source a submission ships as its `ipcmon` crate: message
//! format, codes, interface descriptions, policies, solutions, the programs' call/recv/reply,
//! and the monitor's engine. The tools use it to speak the protocol; the grader never uses the
//! tools' copy to judge a submission's monitor, only to drive it from outside.

pub mod channel;
pub mod codes;
pub mod idl;
pub mod kernel;
pub mod policy;
pub mod solution;
pub mod wire;
