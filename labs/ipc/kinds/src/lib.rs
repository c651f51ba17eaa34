//! Lab `ipc`'s own check kinds: the signal listener's (`listener-pid`, `signal`, `idle`) and
//! Part 2b's `traversal`, plus the `depth` table command. Registered into the engine by the
//! binary with [`register`]; nothing here is known to the engine by name.

pub mod depth;
mod idle;
mod listener;
mod listener_pid;
mod signal;
pub mod traversal;

use engine::Registry;

/// Adds this lab's kinds to a registry.
pub fn register(r: &mut Registry) {
    r.add::<listener_pid::ListenerPid>()
        .add::<signal::SignalKind>()
        .add::<idle::Idle>()
        .add::<traversal::Traversal>();
}
