//! Lab shm, starter: the naive design of the notebook. One shared memory object holds every
//! client's job buffer; the server spins over it and performs what it finds there.
//!
//! It works for one honest client and falls apart against a hostile one: the lab's hostile
//! clients show how, and the handout's section 4 walks through each fix.

pub mod abi;
pub mod client;
pub mod killer;
pub mod server;
pub mod table;
