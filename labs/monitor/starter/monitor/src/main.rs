//! `monitor SOLUTION.json`: starts the solution's programs and mediates every message
//! between them. The engine (ipcmon::kernel) does the plumbing; the decisions are in
//! `check` and the records in `audit`.

mod audit;
mod check;

use std::process::ExitCode;

use ipcmon::kernel::{AuditLog, Context, Event, Mediator, Peer, PendingCall, Verdict};

/// This monitor: the check module's functions plugged into the engine.
struct Monitor;

impl Mediator for Monitor {
    fn check_request(&self, ctx: &Context, from: &Peer<'_>, to: &Peer<'_>, msg: &[u8]) -> Verdict {
        check::check_request(ctx, from, to, msg)
    }

    fn check_reply(
        &self,
        ctx: &Context,
        from: &Peer<'_>,
        to: &Peer<'_>,
        call: Option<&PendingCall>,
        msg: &[u8],
    ) -> Verdict {
        check::check_reply(ctx, from, to, call, msg)
    }

    fn audit(&self, log: &mut AuditLog, event: &Event<'_>) {
        audit::record(log, event);
    }
}

fn main() -> ExitCode {
    ipcmon::kernel::main(&Monitor)
}
