//! The key-value store behind the reference server: turns one request packet into one reply
//! packet and one ground-truth record. It is pure state (no sockets, no files, no clock), so the
//! direct path and the proxied path can be compared byte for byte.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::frame::{self, Header, SERVER, kind};

/// One line of the server's ground-truth log: a message as it reached the server, and what the
/// server made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthRecord {
    /// 1-based count of packets this server received (all connections).
    pub n: u64,
    /// Connection number, 0-based in accept order.
    pub conn: u64,
    pub src: Option<u16>,
    pub dst: Option<u16>,
    #[serde(rename = "type")]
    pub kind: Option<u16>,
    pub seq: Option<u32>,
    /// Payload bytes that actually arrived (packet length minus the header).
    pub len: usize,
    /// FNV-1a 64 of the payload bytes that arrived.
    pub hash: String,
    /// "ok", or "bad" when the packet was malformed (then `error` says why).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Type of the reply the server sent.
    pub reply: u16,
}

/// The store and its counters.
#[derive(Debug, Default)]
pub struct Store {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    received: u64,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// Handles one packet from connection `conn`: the reply to send and the truth record.
    pub fn handle(&mut self, conn: u64, packet: &[u8]) -> (Vec<u8>, TruthRecord) {
        self.received += 1;
        let body = packet.get(frame::HEADER_LEN..).unwrap_or(&[]);
        let mut record = TruthRecord {
            n: self.received,
            conn,
            src: None,
            dst: None,
            kind: None,
            seq: None,
            len: body.len(),
            hash: frame::hash_text(body),
            status: "ok".to_owned(),
            error: None,
            reply: kind::ERROR,
        };
        let peeked = Header::peek(packet);
        if let Ok(h) = &peeked {
            record.src = Some(h.src);
            record.dst = Some(h.dst);
            record.kind = Some(h.kind);
            record.seq = Some(h.seq);
        }
        let (reply_to, seq) = peeked.as_ref().map(|h| (h.src, h.seq)).unwrap_or((0, 0));
        let answer = match Header::parse(packet) {
            Err(err) => {
                record.status = "bad".to_owned();
                Err(err.to_string())
            }
            Ok((header, payload)) => self.apply(header.kind, payload),
        };
        let (reply_kind, reply_payload) = match answer {
            Ok(ok) => ok,
            Err(reason) => {
                record.error = Some(reason.clone());
                (kind::ERROR, reason.into_bytes())
            }
        };
        record.reply = reply_kind;
        (
            frame::packet(SERVER, reply_to, reply_kind, seq, &reply_payload),
            record,
        )
    }

    fn apply(&mut self, request: u16, payload: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let ok = request | kind::REPLY;
        match request {
            kind::GET => Ok(match self.map.get(payload) {
                Some(value) => (ok, value.clone()),
                None => (kind::NOTFOUND, Vec::new()),
            }),
            kind::PUT => {
                let (key, value) = split_put(payload)?;
                self.map.insert(key.to_vec(), value.to_vec());
                Ok((ok, Vec::new()))
            }
            kind::DEL => Ok(match self.map.remove(payload) {
                Some(_) => (ok, Vec::new()),
                None => (kind::NOTFOUND, Vec::new()),
            }),
            kind::INCR => {
                let current = match self.map.get(payload) {
                    None => 0u64,
                    Some(v) => {
                        let bytes: [u8; 8] = v
                            .as_slice()
                            .try_into()
                            .map_err(|_| "INCR on a value that is not a counter".to_owned())?;
                        u64::from_le_bytes(bytes)
                    }
                };
                let next = current.wrapping_add(1).to_le_bytes().to_vec();
                self.map.insert(payload.to_vec(), next.clone());
                Ok((ok, next))
            }
            kind::ECHO => Ok((ok, payload.to_vec())),
            kind::FLUSH => {
                self.map.clear();
                Ok((ok, Vec::new()))
            }
            other => Err(format!("unknown request type {other:#x}")),
        }
    }
}

fn split_put(payload: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let malformed = || "malformed PUT: needs key length (2 bytes), key, value".to_owned();
    let len_bytes = payload.get(..2).ok_or_else(malformed)?;
    let key_len = usize::from(u16::from_le_bytes([len_bytes[0], len_bytes[1]]));
    let key = payload.get(2..2 + key_len).ok_or_else(malformed)?;
    Ok((key, &payload[2 + key_len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{CLIENT, packet, put_payload};

    #[test]
    fn put_get_del_incr() {
        let mut store = Store::new();
        let (reply, rec) = store.handle(
            0,
            &packet(CLIENT, SERVER, kind::PUT, 1, &put_payload(b"k", b"v")),
        );
        assert_eq!(rec.status, "ok");
        assert_eq!(
            Header::peek(&reply).expect("header").kind,
            kind::PUT | kind::REPLY
        );
        let (reply, _) = store.handle(0, &packet(CLIENT, SERVER, kind::GET, 2, b"k"));
        assert_eq!(&reply[frame::HEADER_LEN..], b"v");
        let (reply, _) = store.handle(0, &packet(CLIENT, SERVER, kind::INCR, 3, b"c"));
        assert_eq!(&reply[frame::HEADER_LEN..], &1u64.to_le_bytes());
        let (reply, _) = store.handle(0, &packet(CLIENT, SERVER, kind::DEL, 4, b"nope"));
        assert_eq!(Header::peek(&reply).expect("header").kind, kind::NOTFOUND);
    }

    #[test]
    fn truncated_packet_is_bad_and_answered() {
        let mut store = Store::new();
        let mut bytes = packet(CLIENT, SERVER, kind::ECHO, 9, b"hello");
        bytes.truncate(frame::HEADER_LEN + 2);
        let (reply, rec) = store.handle(0, &bytes);
        assert_eq!(rec.status, "bad");
        assert_eq!(rec.seq, Some(9));
        let header = Header::peek(&reply).expect("header");
        assert_eq!(
            (header.kind, header.seq, header.dst),
            (kind::ERROR, 9, CLIENT)
        );
    }
}
