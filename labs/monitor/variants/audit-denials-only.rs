// BROKEN VARIANT (lab tests only): only denials are recorded (handout 2.5)
//! The audit log: one JSON line per decision, allowed or denied, request or reply
//! (handout 2.5). The `from` it records is the program holding the sending end, never the
//! name the message claims.
//!
//! Recording must never change a decision, and a failed write must never stop the monitor.

use ipcmon::kernel::{AuditLog, Event};
use ipcmon::policy::Direction;
use ipcmon::wire;

/// Writes the line for `event`.
pub fn record(log: &mut AuditLog, event: &Event<'_>) {
    if event.verdict.is_allowed() {
        return;
    }
    let header = wire::peek(event.msg);
    let time_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let line = serde_json::json!({
        "time_ms": time_ms,
        "dir": match event.dir { Direction::Call => "call", Direction::Reply => "reply" },
        "from": event.from,
        "to": event.to,
        "channel": event.channel,
        "riid": header.as_ref().map(|h| h.riid),
        "mid": header.as_ref().map(|h| h.mid),
        "verdict": if event.verdict.is_allowed() { "allow" } else { "deny" },
        "code": event.verdict.code,
        "reason": event.verdict.reason,
    });
    if let Err(e) = log.write_line(&line) {
        eprintln!("monitor: cannot write the audit log: {e}");
    }
}
