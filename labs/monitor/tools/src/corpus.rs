//! The corpus of malformed requests: each case, the bytes, and the code the handout's table
//! (2.2) says a monitor must answer it with, whoever sends it (structure comes before policy,
//! so a caller with no rights at all gets the same codes).
//!
//! This module only builds bytes; it must never send them.

use crate::proto::codes;
use crate::proto::wire::{self, HEADER_LEN, Header, Kind, MAX_MESSAGE};

/// One malformed (or control) request.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short name, shown to students.
    pub name: &'static str,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The code every caller must get (OK/EDENIED for the control case is decided by the
    /// policy, see `is_control`).
    pub code: u32,
    /// The well-formed control call (its code depends on the caller's rights).
    pub is_control: bool,
}

fn add_args(a: u32, b: u32) -> Vec<u8> {
    let mut p = a.to_le_bytes().to_vec();
    p.extend_from_slice(&b.to_le_bytes());
    p
}

fn key(len_field: u16, text: &[u8]) -> Vec<u8> {
    let mut p = len_field.to_le_bytes().to_vec();
    p.extend_from_slice(text);
    p.resize(18, 0);
    p
}

/// Every case, in the order the checker sends them, as `sender` writes them (its own name:
/// an honest but clumsy client).
pub fn cases(sender: &str) -> Vec<Case> {
    let msg = |riid: u32, mid: u32, payload: &[u8]| {
        wire::encode(&Header::new(Kind::Request, riid, mid, sender), payload)
    };
    let c = |name, bytes, code| Case {
        name,
        bytes,
        code,
        is_control: false,
    };
    let good = msg(1, 1, &add_args(2, 3));
    let mut v = vec![
        c(
            "10 bytes, shorter than a header",
            good[..10].to_vec(),
            codes::ETRUNCATED,
        ),
        c(
            "43 bytes, one short of a header",
            good[..HEADER_LEN - 1].to_vec(),
            codes::ETRUNCATED,
        ),
        c(
            "header declares 8 payload bytes, 4 follow",
            good[..HEADER_LEN + 4].to_vec(),
            codes::ETRUNCATED,
        ),
    ];
    let mut big = msg(1, 1, &vec![0u8; MAX_MESSAGE + 88 - HEADER_LEN]);
    v.push(c(
        "600 bytes, over the 512-byte limit",
        big.clone(),
        codes::EOVERSIZED,
    ));
    big.truncate(MAX_MESSAGE + 1);
    let n = u32::try_from(MAX_MESSAGE + 1 - HEADER_LEN).unwrap_or(0);
    big[24..28].copy_from_slice(&n.to_le_bytes());
    v.push(c("513 bytes, one over the limit", big, codes::EOVERSIZED));
    let mut at_limit = msg(1, 1, &vec![0u8; MAX_MESSAGE - HEADER_LEN]);
    at_limit.truncate(MAX_MESSAGE);
    v.push(c(
        "512 bytes (at the limit) for Calc.Add",
        at_limit,
        codes::EBADSIZE,
    ));
    let mut bad = good.clone();
    bad[0..4].copy_from_slice(b"IPCX");
    v.push(c("magic IPCX", bad, codes::EBADHEADER));
    let mut bad = good.clone();
    bad[4] = 9;
    v.push(c("kind 9", bad, codes::EBADHEADER));
    let mut bad = good.clone();
    bad[4] = Kind::Reply as u8;
    v.push(c("a reply sent on a client end", bad, codes::EBADHEADER));
    let mut bad = good.clone();
    bad[6] = 1;
    v.push(c("reserved header bytes not zero", bad, codes::EBADHEADER));
    let mut bad = good.clone();
    bad.extend_from_slice(&[0, 0, 0, 0]);
    v.push(c(
        "4 bytes after the declared payload",
        bad,
        codes::EBADHEADER,
    ));
    v.push(c(
        "endpoint 99",
        msg(99, 1, &add_args(2, 3)),
        codes::ENOENDPOINT,
    ));
    v.push(c(
        "endpoint 0",
        msg(0, 1, &add_args(2, 3)),
        codes::ENOENDPOINT,
    ));
    v.push(c(
        "Calc method 77",
        msg(1, 77, &add_args(2, 3)),
        codes::ENOMETHOD,
    ));
    v.push(c("Admin method 0", msg(3, 0, &[]), codes::ENOMETHOD));
    v.push(c(
        "Calc.Add with 4 payload bytes",
        msg(1, 1, &[2, 0, 0, 0]),
        codes::EBADSIZE,
    ));
    v.push(c(
        "Calc.Add with 12 payload bytes",
        msg(1, 1, &[0u8; 12]),
        codes::EBADSIZE,
    ));
    v.push(c(
        "Admin.Stats with 4 payload bytes",
        msg(3, 1, &[0u8; 4]),
        codes::EBADSIZE,
    ));
    v.push(c(
        "Store.Get key length 40 > capacity 16",
        msg(2, 2, &key(40, b"abc")),
        codes::EBADFIELD,
    ));
    let mut put = key(2, &[0xff, 0xfe]);
    put.extend_from_slice(&7u32.to_le_bytes());
    v.push(c(
        "Store.Put key not UTF-8",
        msg(2, 1, &put),
        codes::EBADFIELD,
    ));
    v.push(Case {
        name: "well-formed Calc.Add(2, 3)",
        bytes: good,
        code: codes::OK,
        is_control: true,
    });
    v
}
