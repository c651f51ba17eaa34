//! The numeric codes of the lab: what Call() and Reply() return when the monitor refuses a
//! message, and the application statuses a server puts in a delivered reply.
//!
//! These numbers are part of the lab's contract (the handout's table, the grader's checks);
//! this module must never renumber them or reuse a number for a second meaning.

/// The message was delivered (Call: a reply came back; Reply: the client got it).
pub const OK: u32 = 0;
/// Shorter than the 44-byte header, or than the length the header declares.
pub const ETRUNCATED: u32 = 1;
/// Longer than [`super::wire::MAX_MESSAGE`] bytes.
pub const EOVERSIZED: u32 = 2;
/// Wrong magic, a kind that does not belong on this side of the channel, or bytes after the
/// declared payload.
pub const EBADHEADER: u32 = 3;
/// The RIID names no endpoint of the interface description.
pub const ENOENDPOINT: u32 = 4;
/// The MID names no method of that endpoint.
pub const ENOMETHOD: u32 = 5;
/// The payload's size is not the size of the method's arguments (request) or results (reply).
pub const EBADSIZE: u32 = 6;
/// A field inside the payload is malformed: a string longer than its capacity, or not UTF-8.
pub const EBADFIELD: u32 = 7;
/// The message is well formed but the policy does not allow it.
pub const EDENIED: u32 = 8;
/// Client side: the server answered, but the monitor refused that reply.
pub const EWITHHELD: u32 = 9;
/// Server side: a reply that answers no call waiting on this channel (unknown tag, or a
/// different endpoint or method than the call asked for).
pub const ENOCALL: u32 = 10;
/// The other side is gone (its program ended or closed the channel), or the channel failed.
pub const EGONE: u32 = 11;
/// Library only, never sent by a monitor: no answer came before the caller's deadline.
pub const ETIMEOUT: u32 = 12;

/// Application status in a delivered reply: the method ran and succeeded.
pub const APP_OK: u32 = 0;
/// Application status: the method failed (division by zero, overflow).
pub const APP_FAILED: u32 = 100;
/// Application status: Store.Get found no such key.
pub const APP_NOKEY: u32 = 101;
/// Application status: the server could not make sense of a request it was given.
pub const APP_BADREQUEST: u32 = 102;

/// The short name of a code, as the handout's table and the audit log spell it.
pub fn name(code: u32) -> &'static str {
    match code {
        OK => "OK",
        ETRUNCATED => "ETRUNCATED",
        EOVERSIZED => "EOVERSIZED",
        EBADHEADER => "EBADHEADER",
        ENOENDPOINT => "ENOENDPOINT",
        ENOMETHOD => "ENOMETHOD",
        EBADSIZE => "EBADSIZE",
        EBADFIELD => "EBADFIELD",
        EDENIED => "EDENIED",
        EWITHHELD => "EWITHHELD",
        ENOCALL => "ENOCALL",
        EGONE => "EGONE",
        ETIMEOUT => "ETIMEOUT",
        _ => "UNKNOWN",
    }
}

/// Whether a code says the message was malformed (as opposed to denied by the policy).
pub fn is_malformed(code: u32) -> bool {
    (ETRUNCATED..=EBADFIELD).contains(&code)
}
