// BROKEN VARIANT (lab tests only): the policy is asked before the structure is checked (handout 2.2)
//! What the monitor allows: every request and every reply passes through here before it may
//! be delivered. First the message's structure is checked against the interface description
//! (handout 2.2), and only a well-formed message is shown to the policy (2.3, 2.4), which is
//! keyed on the program the MONITOR gave the channel's end to, never on a name inside the
//! message (3.3). Replies get the same treatment (2.6).
//!
//! Nothing here may deliver anything: it only decides.

use ipcmon::codes;
use ipcmon::idl::{self, Value};
use ipcmon::kernel::{Context, Peer, PendingCall, Verdict};
use ipcmon::policy::{Direction, Rule};
use ipcmon::wire::{self, Kind};

/// Whether every constraint of `rule` holds for the decoded `values` (handout 2.4). A
/// constraint on a field the method lacks does not hold.
fn constraints_hold(rule: &Rule, values: &[(String, Value)]) -> bool {
    rule.constraints.iter().all(|c| {
        values.iter().any(|(name, v)| match v {
            Value::U32(x) => *name == c.field && c.op.holds(*x, c.value),
            Value::Str(_) => false,
        })
    })
}

/// The first rule that lets `program` do this, if any.
fn allowing_rule<'a>(
    ctx: &'a Context,
    dir: Direction,
    program: &str,
    endpoint: &str,
    method: &str,
    values: &[(String, Value)],
) -> Option<&'a Rule> {
    ctx.policy
        .rules
        .iter()
        .find(|r| r.names(dir, program, endpoint, method) && constraints_hold(r, values))
}

/// A request from `from` (who holds the client end) to `to`.
pub fn check_request(ctx: &Context, from: &Peer<'_>, _to: &Peer<'_>, msg: &[u8]) -> Verdict {
    // 2.2 Structure first: sizes, header, endpoint, method, every field.
    let (header, payload) = match wire::split(msg) {
        Ok(parts) => parts,
        Err(e) => return Verdict::deny(e.code(), e.to_string()),
    };
    let named = ctx
        .idl
        .endpoint(header.riid)
        .and_then(|e| e.method(header.mid).map(|m| (e, m)));
    let any_rule = named.is_some_and(|(e, m)| {
        ctx.policy
            .rules
            .iter()
            .any(|r| r.names(Direction::Call, from.program, &e.name, &m.name))
    });
    if !any_rule {
        return Verdict::deny(codes::EDENIED, "no rule names this call");
    }
    if header.kind != Kind::Request {
        return Verdict::deny(
            codes::EBADHEADER,
            format!("{:?} sent on a client end", header.kind),
        );
    }
    let Some(endpoint) = ctx.idl.endpoint(header.riid) else {
        return Verdict::deny(codes::ENOENDPOINT, format!("no endpoint {}", header.riid));
    };
    let Some(method) = endpoint.method(header.mid) else {
        return Verdict::deny(
            codes::ENOMETHOD,
            format!("{} has no method {}", endpoint.name, header.mid),
        );
    };
    let args = match idl::decode(&method.inputs, payload) {
        Ok(args) => args,
        Err(e) => {
            return Verdict::deny(e.code(), format!("{}.{}: {e}", endpoint.name, method.name));
        }
    };
    // 2.3 + 3.3 Then the policy, about the program that holds this channel's client end.
    match allowing_rule(
        ctx,
        Direction::Call,
        from.program,
        &endpoint.name,
        &method.name,
        &args,
    ) {
        Some(rule) => Verdict::allow(format!("policy line {}", rule.line)),
        None => Verdict::deny(
            codes::EDENIED,
            format!(
                "no rule lets {} call {}.{}",
                from.program, endpoint.name, method.name
            ),
        ),
    }
}

/// A reply from `from` (the server) to `to`, answering `call` if the tag names one (2.6).
pub fn check_reply(
    ctx: &Context,
    from: &Peer<'_>,
    _to: &Peer<'_>,
    call: Option<&PendingCall>,
    msg: &[u8],
) -> Verdict {
    let (header, payload) = match wire::split(msg) {
        Ok(parts) => parts,
        Err(e) => return Verdict::deny(e.code(), e.to_string()),
    };
    if header.kind != Kind::Reply {
        return Verdict::deny(
            codes::EBADHEADER,
            format!("{:?} sent on a server end", header.kind),
        );
    }
    let Some(call) = call else {
        return Verdict::deny(
            codes::ENOCALL,
            format!("no call with tag {} is waiting", header.tag),
        );
    };
    if (header.riid, header.mid) != (call.riid, call.mid) {
        return Verdict::deny(
            codes::ENOCALL,
            "the reply names another method than its call",
        );
    }
    let Some((endpoint, method)) = ctx
        .idl
        .endpoint(call.riid)
        .and_then(|e| e.method(call.mid).map(|m| (e, m)))
    else {
        return Verdict::deny(codes::ENOMETHOD, "the call's method is not in the IDL");
    };
    let results = match idl::decode(&method.outputs, payload) {
        Ok(r) => r,
        Err(e) => {
            return Verdict::deny(
                e.code(),
                format!("{}.{} reply: {e}", endpoint.name, method.name),
            );
        }
    };
    match allowing_rule(
        ctx,
        Direction::Reply,
        from.program,
        &endpoint.name,
        &method.name,
        &results,
    ) {
        Some(rule) => Verdict::allow(format!("policy line {}", rule.line)),
        None => Verdict::deny(
            codes::EDENIED,
            format!(
                "no rule lets {} answer {}.{} so",
                from.program, endpoint.name, method.name
            ),
        ),
    }
}
