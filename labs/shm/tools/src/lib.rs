//! Lab `shm`: the programs the lab ships to the grader. They talk to a submission only through
//! its `ipc.so` (the notebook's four functions), like the notebook does, so they work with any
//! design of the server behind it.
//!
//! - `ipclib`: loading an `ipc.so` and driving one job buffer with it;
//! - `clients`: the checker `shm-clients` (many honest clients, every answer verified);
//! - `hostile`: the corpus of hostile clients `shm-hostile <attack>`;
//! - `mapping`: what backs a job buffer in this process (for the shrink and snoop attacks);
//! - `watchdog`: a deadline for a whole tool run;
//! - `bench`: the round-trip benchmark `shm-bench`.
//!
//! Nothing here may wait without a deadline or leave anything behind in /dev/shm or /tmp.

pub mod abi;
pub mod bench;
pub mod clients;
pub mod hostile;
pub mod ipclib;
pub mod mapping;
pub mod watchdog;
