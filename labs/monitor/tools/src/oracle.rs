//! The lab's own model of a correct monitor: the decisions the grader expects for every
//! message (structure first, then the policy keyed on the channel's owner, replies too) and
//! the audit line it expects for each decision. The checkers compute expected codes with it,
//! and `monitor-refmon` runs it as a monitor so a student's server or client can be graded
//! on its own.
//!
//! It must never look at the header's sender field for anything but the audit's `claimed`.

use crate::proto::codes;
use crate::proto::idl::{self, Value};
use crate::proto::kernel::{AuditLog, Context, Event, Mediator, Peer, PendingCall, Verdict};
use crate::proto::policy::{Direction, Policy, Rule};
use crate::proto::wire::{self, Kind};

/// The reference mediator.
#[derive(Debug, Default, Clone, Copy)]
pub struct Oracle;

fn constraints_hold(rule: &Rule, values: &[(String, Value)]) -> bool {
    rule.constraints.iter().all(|c| {
        values.iter().any(|(name, v)| match v {
            Value::U32(x) if *name == c.field => c.op.holds(*x, c.value),
            _ => false,
        })
    })
}

/// The first rule of `policy` that allows `program` this method with these values.
pub fn find_rule<'p>(
    policy: &'p Policy,
    dir: Direction,
    program: &str,
    endpoint: &str,
    method: &str,
    values: &[(String, Value)],
) -> Option<&'p Rule> {
    policy
        .rules
        .iter()
        .find(|r| r.names(dir, program, endpoint, method) && constraints_hold(r, values))
}

impl Mediator for Oracle {
    fn check_request(&self, ctx: &Context, from: &Peer<'_>, _to: &Peer<'_>, msg: &[u8]) -> Verdict {
        let (h, payload) = match wire::split(msg) {
            Ok(x) => x,
            Err(e) => return Verdict::deny(e.code(), e.to_string()),
        };
        if h.kind != Kind::Request {
            return Verdict::deny(codes::EBADHEADER, format!("a {:?} on a client end", h.kind));
        }
        let Some(ep) = ctx.idl.endpoint(h.riid) else {
            return Verdict::deny(codes::ENOENDPOINT, format!("no endpoint {}", h.riid));
        };
        let Some(m) = ep.method(h.mid) else {
            return Verdict::deny(
                codes::ENOMETHOD,
                format!("{} has no method {}", ep.name, h.mid),
            );
        };
        let args = match idl::decode(&m.inputs, payload) {
            Ok(a) => a,
            Err(e) => return Verdict::deny(e.code(), format!("{}.{}: {e}", ep.name, m.name)),
        };
        match find_rule(
            &ctx.policy,
            Direction::Call,
            from.program,
            &ep.name,
            &m.name,
            &args,
        ) {
            Some(r) => Verdict::allow(format!("policy line {}", r.line)),
            None => Verdict::deny(
                codes::EDENIED,
                format!("no rule lets {} call {}.{}", from.program, ep.name, m.name),
            ),
        }
    }

    fn check_reply(
        &self,
        ctx: &Context,
        from: &Peer<'_>,
        _to: &Peer<'_>,
        call: Option<&PendingCall>,
        msg: &[u8],
    ) -> Verdict {
        let (h, payload) = match wire::split(msg) {
            Ok(x) => x,
            Err(e) => return Verdict::deny(e.code(), e.to_string()),
        };
        if h.kind != Kind::Reply {
            return Verdict::deny(codes::EBADHEADER, format!("a {:?} on a server end", h.kind));
        }
        let Some(call) = call else {
            return Verdict::deny(codes::ENOCALL, format!("no call with tag {} waits", h.tag));
        };
        if (h.riid, h.mid) != (call.riid, call.mid) {
            return Verdict::deny(
                codes::ENOCALL,
                "the reply names another method than the call",
            );
        }
        let Some((ep, m)) = ctx
            .idl
            .endpoint(h.riid)
            .and_then(|e| e.method(h.mid).map(|m| (e, m)))
        else {
            return Verdict::deny(codes::ENOMETHOD, "no such method");
        };
        let results = match idl::decode(&m.outputs, payload) {
            Ok(r) => r,
            Err(e) => return Verdict::deny(e.code(), format!("{}.{} reply: {e}", ep.name, m.name)),
        };
        match find_rule(
            &ctx.policy,
            Direction::Reply,
            from.program,
            &ep.name,
            &m.name,
            &results,
        ) {
            Some(r) => Verdict::allow(format!("policy line {}", r.line)),
            None => Verdict::deny(
                codes::EDENIED,
                format!(
                    "no rule lets {} answer {}.{} so",
                    from.program, ep.name, m.name
                ),
            ),
        }
    }

    fn audit(&self, log: &mut AuditLog, event: &Event<'_>) {
        let _ = log.write_line(&audit_line(event));
    }
}

/// The audit line for a decision, in the lab's format (handout 3.5).
pub fn audit_line(event: &Event<'_>) -> serde_json::Value {
    let h = wire::peek(event.msg);
    let time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    serde_json::json!({
        "time_ms": time_ms,
        "dir": match event.dir { Direction::Call => "call", Direction::Reply => "reply" },
        "from": event.from,
        "to": event.to,
        "channel": event.channel,
        "riid": h.as_ref().map(|h| h.riid),
        "mid": h.as_ref().map(|h| h.mid),
        "verdict": if event.verdict.is_allowed() { "allow" } else { "deny" },
        "code": event.verdict.code,
        "reason": event.verdict.reason,
    })
}
