//! The reference client side: requests drawn from a seed, one call at a time or a pipelined batch
//! closed by a barrier, every wait bounded by a deadline. It never retries on its own and never
//! waits forever: a missing reply is reported, not awaited.

use std::path::Path;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::frame::{self, Header, SERVER, kind};
use crate::rng::SplitMix64;
use crate::seqpacket::{Conn, Recv, SocketError};

/// How long one reply may take before the client calls it a hang.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(3);

/// The ECHO payload of a batch's barrier.
pub const BARRIER: &[u8] = b"proxy-lab barrier";

#[derive(Debug, Error)]
pub enum ClientError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("no reply to seq {seq} within {}s (the client would hang here)", REPLY_DEADLINE.as_secs())]
    Hang { seq: u32 },
    #[error("{count} replies before the barrier's, more than the requests can explain")]
    Flood { count: usize },
    #[error("the connection closed before the reply to seq {seq}")]
    Closed { seq: u32 },
    #[error("reply is not a message: {0}")]
    Frame(#[from] frame::FrameError),
}

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub src: u16,
    pub kind: u16,
    pub seq: u32,
    pub payload: Vec<u8>,
}

impl Request {
    pub fn packet(&self) -> Vec<u8> {
        frame::packet(self.src, SERVER, self.kind, self.seq, &self.payload)
    }
}

/// `count` random requests over a small key space (so GETs hit and miss), seqs from `first_seq`.
pub fn random_requests(seed: u64, count: usize, first_seq: u32, src: u16) -> Vec<Request> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let key = format!("key{}", rng.below(12)).into_bytes();
        let (k, payload) = match rng.below(10) {
            0..=2 => (kind::GET, key),
            3..=5 => {
                let len = rng.below(200) as usize;
                (kind::PUT, frame::put_payload(&key, &rng.bytes(len)))
            }
            6 => (kind::DEL, key),
            7 => (kind::INCR, format!("counter{}", rng.below(3)).into_bytes()),
            _ => {
                let len = rng.below(1024) as usize;
                (kind::ECHO, rng.bytes(len))
            }
        };
        out.push(Request {
            src,
            kind: k,
            seq: first_seq + i as u32,
            payload,
        });
    }
    out
}

/// A connection to a server or proxy.
#[derive(Debug)]
pub struct Client {
    conn: Conn,
}

impl Client {
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        Ok(Client {
            conn: Conn::connect(path)?,
        })
    }

    pub fn send(&self, request: &Request) -> Result<(), ClientError> {
        Ok(self.conn.send(&request.packet())?)
    }

    pub fn send_raw(&self, packet: &[u8]) -> Result<(), ClientError> {
        Ok(self.conn.send(packet)?)
    }

    /// The next packet, waiting at most REPLY_DEADLINE.
    pub fn next_reply(&mut self, waiting_for: u32) -> Result<Vec<u8>, ClientError> {
        match self.conn.recv_by(Instant::now() + REPLY_DEADLINE)? {
            Recv::Packet(p) => Ok(p),
            Recv::Eof => Err(ClientError::Closed { seq: waiting_for }),
            Recv::Timeout => Err(ClientError::Hang { seq: waiting_for }),
        }
    }

    /// Waits until the peer closes (packets that still arrive are discarded).
    pub fn wait_closed(&mut self, deadline: Instant) -> Result<(), ClientError> {
        loop {
            match self.conn.recv_by(deadline)? {
                Recv::Packet(_) if Instant::now() < deadline => continue,
                Recv::Packet(_) => return Err(ClientError::Hang { seq: 0 }),
                Recv::Eof => return Ok(()),
                Recv::Timeout => return Err(ClientError::Hang { seq: 0 }),
            }
        }
    }

    /// Sends one request and returns the next packet that comes back.
    pub fn call(&mut self, request: &Request) -> Result<Vec<u8>, ClientError> {
        self.send(request)?;
        self.next_reply(request.seq)
    }

    /// Sends every request without waiting, then an ECHO barrier (seq `barrier_seq`), and
    /// collects every packet up to the barrier's reply.
    pub fn batch(
        &mut self,
        requests: &[Request],
        barrier_seq: u32,
        src: u16,
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        for r in requests {
            self.send(r)?;
        }
        let barrier = Request {
            src,
            kind: kind::ECHO,
            seq: barrier_seq,
            payload: BARRIER.to_vec(),
        };
        self.send(&barrier)?;
        let mut replies = Vec::new();
        // Never more than a few replies per request (duplicates); a peer that floods ends here.
        let most = 4 * requests.len() + 16;
        loop {
            if replies.len() > most {
                return Err(ClientError::Flood {
                    count: replies.len(),
                });
            }
            let packet = self.next_reply(barrier_seq)?;
            let header = Header::peek(&packet)?;
            if header.seq == barrier_seq && header.kind == kind::ECHO | kind::REPLY {
                return Ok(replies);
            }
            replies.push(packet);
        }
    }
}
