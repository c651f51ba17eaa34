//! The message format: a fixed 44-byte header followed by the payload, one message per
//! SOCK_SEQPACKET datagram.
//!
//! | bytes  | field   | meaning                                                        |
//! |--------|---------|----------------------------------------------------------------|
//! | 0..4   | magic   | `IPCM`                                                         |
//! | 4      | kind    | 1 request, 2 reply, 3 ack (monitor to server), 4 error (monitor to client) |
//! | 5..8   | zero    | reserved, always 0                                             |
//! | 8..12  | riid    | endpoint id (little-endian u32, as are all numbers)            |
//! | 12..16 | mid     | method id                                                      |
//! | 16..20 | tag     | call number the monitor gives a request; a reply repeats it     |
//! | 20..24 | status  | reply: application status; ack and error: the monitor's code    |
//! | 24..28 | len     | payload bytes after the header                                 |
//! | 28..44 | sender  | the name the SENDER claims, NUL-padded: never proof of anything  |
//!
//! This module only encodes and splits bytes; it must never decide whether a message is
//! allowed (that is the monitor's check) and never trust the `sender` field.

use super::codes;

/// The four bytes every message starts with.
pub const MAGIC: [u8; 4] = *b"IPCM";
/// Size of the header in bytes.
pub const HEADER_LEN: usize = 44;
/// Largest message (header and payload) a monitor accepts.
pub const MAX_MESSAGE: usize = 512;
/// Capacity of the header's sender field.
pub const SENDER_LEN: usize = 16;

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Client to server: call a method.
    Request = 1,
    /// Server to client: the method's results.
    Reply = 2,
    /// Monitor to server: what became of its reply (status = code).
    Ack = 3,
    /// Monitor to client: the call was refused (status = code).
    Error = 4,
}

impl Kind {
    /// The kind for a byte, if it names one.
    pub fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Request),
            2 => Some(Kind::Reply),
            3 => Some(Kind::Ack),
            4 => Some(Kind::Error),
            _ => None,
        }
    }
}

/// A decoded header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// What the message is.
    pub kind: Kind,
    /// Endpoint id.
    pub riid: u32,
    /// Method id.
    pub mid: u32,
    /// Call number (set by the monitor on requests, repeated by replies).
    pub tag: u32,
    /// Application status (reply) or monitor code (ack, error).
    pub status: u32,
    /// Payload length the header declares.
    pub len: u32,
    /// The sender's claimed name (NUL-padded bytes).
    pub sender: [u8; SENDER_LEN],
}

impl Header {
    /// A header of `kind` for `riid`/`mid`, claiming `sender` (cut to 16 bytes).
    pub fn new(kind: Kind, riid: u32, mid: u32, sender: &str) -> Header {
        let mut s = [0u8; SENDER_LEN];
        let bytes = sender.as_bytes();
        let n = bytes.len().min(SENDER_LEN);
        s[..n].copy_from_slice(&bytes[..n]);
        Header {
            kind,
            riid,
            mid,
            tag: 0,
            status: 0,
            len: 0,
            sender: s,
        }
    }

    /// The claimed sender name, up to the first NUL (lossy UTF-8).
    pub fn sender_name(&self) -> String {
        let end = self
            .sender
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(SENDER_LEN);
        String::from_utf8_lossy(&self.sender[..end]).into_owned()
    }

    /// The 44 header bytes (with `len` as stored in the header).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4] = self.kind as u8;
        b[8..12].copy_from_slice(&self.riid.to_le_bytes());
        b[12..16].copy_from_slice(&self.mid.to_le_bytes());
        b[16..20].copy_from_slice(&self.tag.to_le_bytes());
        b[20..24].copy_from_slice(&self.status.to_le_bytes());
        b[24..28].copy_from_slice(&self.len.to_le_bytes());
        b[28..44].copy_from_slice(&self.sender);
        b
    }
}

/// Why bytes are not a well-formed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the header, or than header plus declared payload.
    #[error("truncated: {got} bytes, need {need}")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes the header (or its len field) requires.
        need: usize,
    },
    /// More than MAX_MESSAGE bytes.
    #[error("oversized: {got} bytes, the limit is {MAX_MESSAGE}")]
    Oversized {
        /// Bytes received (at least MAX_MESSAGE + 1).
        got: usize,
    },
    /// The first four bytes are not `IPCM`.
    #[error("bad magic (not IPCM)")]
    BadMagic,
    /// Byte 4 names no kind, or bytes 5..8 are not zero.
    #[error("bad kind byte {0}")]
    BadKind(u8),
    /// Bytes after the declared payload.
    #[error("{extra} bytes after the declared payload of {declared}")]
    Trailing {
        /// Payload length the header declares.
        declared: usize,
        /// Bytes beyond it.
        extra: usize,
    },
}

impl WireError {
    /// The monitor code for this error.
    pub fn code(&self) -> u32 {
        match self {
            WireError::Truncated { .. } => codes::ETRUNCATED,
            WireError::Oversized { .. } => codes::EOVERSIZED,
            WireError::BadMagic | WireError::BadKind(_) | WireError::Trailing { .. } => {
                codes::EBADHEADER
            }
        }
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Reads the header of `msg` without looking at sizes beyond it (for routing and logs).
pub fn peek(msg: &[u8]) -> Option<Header> {
    if msg.len() < HEADER_LEN || msg[0..4] != MAGIC || msg[5..8] != [0, 0, 0] {
        return None;
    }
    let kind = Kind::from_byte(msg[4])?;
    let mut sender = [0u8; SENDER_LEN];
    sender.copy_from_slice(&msg[28..44]);
    Some(Header {
        kind,
        riid: le32(msg, 8),
        mid: le32(msg, 12),
        tag: le32(msg, 16),
        status: le32(msg, 20),
        len: le32(msg, 24),
        sender,
    })
}

/// Splits a whole message into header and payload, checking every size the header implies:
/// the order is size limit, header length, magic, kind, declared length.
pub fn split(msg: &[u8]) -> Result<(Header, &[u8]), WireError> {
    if msg.len() > MAX_MESSAGE {
        return Err(WireError::Oversized { got: msg.len() });
    }
    if msg.len() < HEADER_LEN {
        return Err(WireError::Truncated {
            got: msg.len(),
            need: HEADER_LEN,
        });
    }
    if msg[0..4] != MAGIC {
        return Err(WireError::BadMagic);
    }
    if msg[5..8] != [0, 0, 0] {
        return Err(WireError::BadKind(msg[4]));
    }
    let header = peek(msg).ok_or(WireError::BadKind(msg[4]))?;
    let declared = header.len as usize;
    let need = HEADER_LEN.saturating_add(declared);
    if msg.len() < need {
        return Err(WireError::Truncated {
            got: msg.len(),
            need,
        });
    }
    if msg.len() > need {
        return Err(WireError::Trailing {
            declared,
            extra: msg.len() - need,
        });
    }
    Ok((header, &msg[HEADER_LEN..]))
}

/// A whole message: `header` (its len replaced by the payload's) then `payload`.
pub fn encode(header: &Header, payload: &[u8]) -> Vec<u8> {
    let mut h = header.clone();
    h.len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&h.to_bytes());
    out.extend_from_slice(payload);
    out
}

/// Writes `tag` into a message's header bytes (no-op on a message shorter than the header).
pub fn set_tag(msg: &mut [u8], tag: u32) {
    if msg.len() >= HEADER_LEN {
        msg[16..20].copy_from_slice(&tag.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let h = Header::new(Kind::Request, 1, 2, "alice");
        let m = encode(&h, &[1, 2, 3, 4]);
        let (back, p) = split(&m).expect("valid message");
        assert_eq!(back.riid, 1);
        assert_eq!(back.len, 4);
        assert_eq!(back.sender_name(), "alice");
        assert_eq!(p, &[1, 2, 3, 4]);
        assert_eq!(
            split(&m[..10]).map(|_| ()),
            Err(WireError::Truncated { got: 10, need: 44 })
        );
        assert_eq!(
            split(&m[..46]).map(|_| ()).map_err(|e| e.code()),
            Err(codes::ETRUNCATED)
        );
        let mut long = m.clone();
        long.push(0);
        assert_eq!(
            split(&long).map(|_| ()).map_err(|e| e.code()),
            Err(codes::EBADHEADER)
        );
        assert_eq!(
            split(&vec![0u8; 600]).map(|_| ()).map_err(|e| e.code()),
            Err(codes::EOVERSIZED)
        );
    }
}
