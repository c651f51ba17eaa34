//! The lab's message format as the proxy needs it: read a header, make an ERROR reply, hash a
//! payload. The proxy forwards packets as bytes; it never re-encodes one it forwards.

pub const HEADER_LEN: usize = 16;
/// Header plus the largest payload (64 KiB).
pub const MAX_PACKET: usize = HEADER_LEN + 64 * 1024;
/// Our component id: the `src` of the replies the proxy makes itself.
pub const PROXY: u16 = 3;
pub const ERROR: u16 = 0xFF;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub src: u16,
    pub dst: u16,
    pub kind: u16,
    pub seq: u32,
}

/// The header of a packet of at least HEADER_LEN bytes.
pub fn header(packet: &[u8]) -> Option<Header> {
    if packet.len() < HEADER_LEN {
        return None;
    }
    let u16_at = |i: usize| u16::from_le_bytes([packet[i], packet[i + 1]]);
    Some(Header {
        src: u16_at(0),
        dst: u16_at(2),
        kind: u16_at(4),
        seq: u32::from_le_bytes([packet[8], packet[9], packet[10], packet[11]]),
    })
}

/// An ERROR reply from the proxy to `dst`, answering `seq`.
pub fn error_reply(dst: u16, seq: u32, reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + reason.len());
    out.extend_from_slice(&PROXY.to_le_bytes());
    out.extend_from_slice(&dst.to_le_bytes());
    out.extend_from_slice(&ERROR.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(reason.len() as u32).to_le_bytes());
    out.extend_from_slice(reason.as_bytes());
    out
}

/// FNV-1a 64 of the payload, 16 hex digits.
pub fn hash(payload: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in payload {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reply_reads_back() {
        let p = error_reply(7, 9, "no");
        assert_eq!(
            header(&p),
            Some(Header {
                src: PROXY,
                dst: 7,
                kind: ERROR,
                seq: 9
            })
        );
        assert_eq!(&p[HEADER_LEN..], b"no");
        assert_eq!(hash(b""), "cbf29ce484222325");
    }
}
