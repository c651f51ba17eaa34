//! The reference key-value server (`proxy-kvserver`): listens on a SOCK_SEQPACKET path, answers
//! every packet from the store, and appends one ground-truth line per received packet to its
//! truth log before it replies. It never trusts a packet's header and never exits on a bad one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use thiserror::Error;

use crate::kvstore::Store;
use crate::seqpacket::{Conn, Listener, Recv, SocketError};

/// At most this many connections at once (the rest are refused by closing them).
const MAX_CONNECTIONS: usize = 256;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("cannot open truth log {path}: {source}")]
    Truth {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write to the ready descriptor {fd}: {source}")]
    Ready { fd: i32, source: std::io::Error },
}

struct Shared {
    store: Store,
    truth: File,
}

/// Binds `listen`, says so (a stdout line when `announce`, a byte on `ready_fd`), then serves
/// forever.
pub fn run(
    listen: &Path,
    truth: &Path,
    ready_fd: Option<i32>,
    announce: bool,
) -> Result<(), ServerError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(truth)
        .map_err(|source| ServerError::Truth {
            path: truth.to_owned(),
            source,
        })?;
    let listener = Listener::bind(listen)?;
    if announce {
        println!("proxy-kvserver ready {}", listen.display());
        let _ = std::io::stdout().flush();
    }
    if let Some(fd) = ready_fd {
        // SAFETY: the launcher handed this descriptor to us for exactly this use; we own it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut ready = File::from(owned);
        ready
            .write_all(b"R")
            .map_err(|source| ServerError::Ready { fd, source })?;
    }
    let shared = Arc::new(Mutex::new(Shared {
        store: Store::new(),
        truth: file,
    }));
    let live = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut conn_id = 0u64;
    loop {
        let conn = listener.accept()?;
        if live.load(std::sync::atomic::Ordering::SeqCst) >= MAX_CONNECTIONS {
            drop(conn);
            continue;
        }
        let id = conn_id;
        conn_id += 1;
        let shared = Arc::clone(&shared);
        let live = Arc::clone(&live);
        live.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::spawn(move || {
            serve(id, conn, &shared);
            live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        });
    }
}

fn serve(id: u64, mut conn: Conn, shared: &Mutex<Shared>) {
    while let Ok(Recv::Packet(packet)) = conn.recv_blocking() {
        let reply = {
            let Ok(mut guard) = shared.lock() else { return };
            let (reply, record) = guard.store.handle(id, &packet);
            let mut line = serde_json::to_string(&record).unwrap_or_default();
            line.push('\n');
            // One write per line on an O_APPEND file: lines never interleave.
            let _ = guard.truth.write_all(line.as_bytes());
            reply
        };
        if conn.send(&reply).is_err() {
            return;
        }
    }
}
