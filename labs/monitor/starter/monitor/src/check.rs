//! What the monitor allows: every request and every reply passes through here before it may
//! be delivered.
//!
//! STARTER: this works for honest programs and is wrong in four ways the handout walks you
//! through. Each TODO names its section. Nothing here may deliver anything: it only decides.

use ipcmon::kernel::{Context, Peer, PendingCall, Verdict};
use ipcmon::policy::{Direction, Rule};
use ipcmon::wire;

/// Whether `rule` lets `program` call `endpoint.method`.
fn rule_allows(rule: &Rule, program: &str, endpoint: &str, method: &str) -> bool {
    // TODO(2.4 Constraints on arguments): a rule with `where a <= 10` allows a call only if
    // every constraint holds for the call's decoded arguments; this ignores them.
    rule.names(Direction::Call, program, endpoint, method)
}

/// A request from `from` (who holds the client end) to `to`.
pub fn check_request(ctx: &Context, from: &Peer<'_>, _to: &Peer<'_>, msg: &[u8]) -> Verdict {
    let _ = from;
    // The library checks the header's own sizes (truncated, oversized, bad magic).
    let (header, _payload) = match wire::split(msg) {
        Ok(parts) => parts,
        Err(e) => return Verdict::deny(e.code(), e.to_string()),
    };
    // TODO(2.2 Structure first): check the rest of the structure against the IDL before the
    // policy sees anything: the kind, the endpoint, the method, the payload's exact size and
    // every field, each with its own code.
    let names = ctx.idl.endpoint(header.riid).and_then(|e| {
        e.method(header.mid)
            .map(|m| (e.name.clone(), m.name.clone()))
    });
    let Some((endpoint, method)) = names else {
        return Verdict::deny(ipcmon::codes::EDENIED, "no such method, so no rule");
    };
    // TODO(3.3 Identity from the channel): the sender field is written by the sender.
    let who = header.sender_name();
    match ctx
        .policy
        .rules
        .iter()
        .find(|r| rule_allows(r, &who, &endpoint, &method))
    {
        Some(rule) => Verdict::allow(format!("policy line {}", rule.line)),
        None => Verdict::deny(
            ipcmon::codes::EDENIED,
            format!("no rule lets {who} call {endpoint}.{method}"),
        ),
    }
}

/// A reply from `from` (the server) to `to`, answering `call` if the tag names one.
pub fn check_reply(
    _ctx: &Context,
    _from: &Peer<'_>,
    _to: &Peer<'_>,
    _call: Option<&PendingCall>,
    _msg: &[u8],
) -> Verdict {
    // TODO(2.6 Replies are messages too): a reply must answer a waiting call, be well formed
    // for that call's method, and be allowed by a `reply` rule for the server.
    Verdict::allow("replies are not checked yet")
}
