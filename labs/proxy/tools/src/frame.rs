//! The lab's wire format: one message per SOCK_SEQPACKET packet, a 16-byte header then the
//! payload. This module encodes and decodes headers and names the components and message types;
//! it never touches a socket and never decides what a message means to the key-value store.

use thiserror::Error;

/// Bytes of the header in front of every payload.
pub const HEADER_LEN: usize = 16;
/// The largest payload the lab's peers accept (64 KiB).
pub const MAX_PAYLOAD: usize = 64 * 1024;
/// The largest packet: a header and the largest payload.
pub const MAX_PACKET: usize = HEADER_LEN + MAX_PAYLOAD;

/// Component id of the reference client (the default `src` of requests).
pub const CLIENT: u16 = 1;
/// Component id of the key-value server.
pub const SERVER: u16 = 2;
/// Component id of the proxy, the `src` of the replies it makes itself.
pub const PROXY: u16 = 3;

/// Request types of the key-value protocol.
pub mod kind {
    /// payload: key. Reply VALUE (payload: value) or NOTFOUND.
    pub const GET: u16 = 1;
    /// payload: key length (u16 LE), key, value. Reply PUT_OK.
    pub const PUT: u16 = 2;
    /// payload: key. Reply DEL_OK or NOTFOUND.
    pub const DEL: u16 = 3;
    /// payload: key. Adds one to the key's counter; reply INCR_OK (payload: new value, u64 LE).
    pub const INCR: u16 = 4;
    /// payload: any bytes. Reply ECHO_OK with the same bytes.
    pub const ECHO: u16 = 5;
    /// payload: empty. Empties the store (an administrative request). Reply FLUSH_OK.
    pub const FLUSH: u16 = 6;
    /// Bit set in the type of every success reply: reply type = request type | REPLY.
    pub const REPLY: u16 = 0x80;
    /// Reply: the key does not exist (payload empty).
    pub const NOTFOUND: u16 = 0xFE;
    /// Reply: the request was refused or failed (payload: UTF-8 reason).
    pub const ERROR: u16 = 0xFF;
}

/// The header of a message, as on the wire (all fields little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub src: u16,
    pub dst: u16,
    pub kind: u16,
    pub seq: u32,
    /// Payload length the sender claims; a well-formed packet has exactly this many bytes after
    /// the header.
    pub len: u32,
}

/// Why a packet is not a well-formed message.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("packet of {0} bytes is shorter than the {HEADER_LEN}-byte header")]
    Short(usize),
    #[error("reserved header bytes 6..8 are {0:#06x}, not zero")]
    Reserved(u16),
    #[error("header says {claimed} payload bytes, packet holds {actual}")]
    Length { claimed: u32, actual: usize },
}

impl Header {
    /// Writes the header's 16 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..2].copy_from_slice(&self.src.to_le_bytes());
        out[2..4].copy_from_slice(&self.dst.to_le_bytes());
        out[4..6].copy_from_slice(&self.kind.to_le_bytes());
        // 6..8 reserved, zero.
        out[8..12].copy_from_slice(&self.seq.to_le_bytes());
        out[12..16].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Reads the header of a packet without checking the payload's length.
    pub fn peek(packet: &[u8]) -> Result<Header, FrameError> {
        if packet.len() < HEADER_LEN {
            return Err(FrameError::Short(packet.len()));
        }
        let u16_at = |i: usize| u16::from_le_bytes([packet[i], packet[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([packet[i], packet[i + 1], packet[i + 2], packet[i + 3]]);
        let reserved = u16_at(6);
        if reserved != 0 {
            return Err(FrameError::Reserved(reserved));
        }
        Ok(Header {
            src: u16_at(0),
            dst: u16_at(2),
            kind: u16_at(4),
            seq: u32_at(8),
            len: u32_at(12),
        })
    }

    /// Reads a packet: its header, and its payload when the length matches the header's.
    pub fn parse(packet: &[u8]) -> Result<(Header, &[u8]), FrameError> {
        let header = Header::peek(packet)?;
        let payload = &packet[HEADER_LEN..];
        if payload.len() != header.len as usize {
            return Err(FrameError::Length {
                claimed: header.len,
                actual: payload.len(),
            });
        }
        Ok((header, payload))
    }
}

/// One whole packet: header (with `len` set from the payload) then payload.
pub fn packet(src: u16, dst: u16, kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let header = Header {
        src,
        dst,
        kind,
        seq,
        len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(payload);
    out
}

/// FNV-1a, 64 bits: the payload fingerprint written in logs (`"hash"`, 16 hex digits).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The `"hash"` text of a payload: FNV-1a 64 as 16 lower-case hex digits.
pub fn hash_text(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a64(bytes))
}

/// The payload of a PUT: key length, key, value.
pub fn put_payload(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + key.len() + value.len());
    out.extend_from_slice(&u16::try_from(key.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

/// A short name for a message type, for explanations.
pub fn kind_name(kind: u16) -> String {
    let base = match kind & !kind::REPLY {
        kind::GET => "GET",
        kind::PUT => "PUT",
        kind::DEL => "DEL",
        kind::INCR => "INCR",
        kind::ECHO => "ECHO",
        kind::FLUSH => "FLUSH",
        _ => "",
    };
    match kind {
        kind::NOTFOUND => "NOTFOUND".to_owned(),
        kind::ERROR => "ERROR".to_owned(),
        _ if !base.is_empty() && kind & kind::REPLY != 0 => format!("{base}_OK"),
        _ if !base.is_empty() => base.to_owned(),
        _ => format!("type {kind:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let bytes = packet(1, 2, kind::PUT, 77, b"abc");
        let (header, payload) = Header::parse(&bytes).expect("well formed");
        assert_eq!(
            header,
            Header {
                src: 1,
                dst: 2,
                kind: kind::PUT,
                seq: 77,
                len: 3
            }
        );
        assert_eq!(payload, b"abc");
    }

    #[test]
    fn bad_packets_are_named() {
        assert_eq!(Header::parse(&[0; 3]), Err(FrameError::Short(3)));
        let mut bytes = packet(1, 2, 1, 1, b"abcd");
        bytes.truncate(HEADER_LEN + 2);
        assert_eq!(
            Header::parse(&bytes),
            Err(FrameError::Length {
                claimed: 4,
                actual: 2
            })
        );
        let mut bytes = packet(1, 2, 1, 1, b"");
        bytes[6] = 1;
        assert_eq!(Header::parse(&bytes), Err(FrameError::Reserved(1)));
    }

    #[test]
    fn fnv_matches_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn kinds_have_names() {
        assert_eq!(kind_name(kind::GET | kind::REPLY), "GET_OK");
        assert_eq!(kind_name(kind::ERROR), "ERROR");
        assert_eq!(kind_name(0x42), "type 0x42");
    }
}
