//! Lab shm, reference solution: a job server that performs system calls for its clients,
//! reached through per-client shared memory (the job buffer), a Unix socket (the handshake,
//! which carries the buffer and the client's descriptors as capabilities) and futexes.
//!
//! The crate is both ipc.so (the C functions in `client`) and the library of the `server` and
//! `server_killer` programs. Nothing here may trust a byte a client can change.

pub mod abi;
pub mod audit;
pub mod client;
pub mod killer;
pub mod region;
pub mod rendezvous;
pub mod server;
pub mod wire;
