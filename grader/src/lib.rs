//! The ipc-lab grader's command line, over the engine: `grader grade`, `batch`, `labs`, `depth`,
//! `check-lab`. This crate puts the binary together (which kinds and labs it carries) and maps
//! every outcome to a documented exit status; it grades nothing itself.

pub mod catalog;
pub mod cli;

// The layers below, for the integration tests and tools that drive the grader as a library.
pub use batch;
pub use engine;
pub use ipc_kinds::depth;
pub use lab;
pub use report;
pub use sandbox;
pub use sandbox::privilege;
