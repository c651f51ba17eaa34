//! The socket, one thread per client (at most 64), and the request loop of each client.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use crate::ask;
use crate::cache::Cache;

const SOCKET: &str = "fsd.sock";
const MAX_CLIENTS: usize = 64;
const MAX_LINE: u64 = 4096;

pub fn run() -> std::io::Result<()> {
    // Every user may connect (permd decides who may read): the socket is made 0666 from the
    // start, so no client ever meets it half set up.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o111));
    let listener = UnixListener::bind(SOCKET)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on ./{SOCKET}: {e}")))?;
    println!("fsd: listening on ./{SOCKET}");
    let cache = Arc::new(Cache::default());
    let clients = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        if clients.load(Ordering::SeqCst) >= MAX_CLIENTS {
            let _ = conn.write_all(b"ERROR too many clients\n");
            continue;
        }
        clients.fetch_add(1, Ordering::SeqCst);
        let (cache, clients) = (Arc::clone(&cache), Arc::clone(&clients));
        std::thread::spawn(move || {
            serve(&conn, &cache);
            clients.fetch_sub(1, Ordering::SeqCst);
        });
    }
    Ok(())
}

fn serve(conn: &UnixStream, cache: &Cache) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
    // Who is the client? The kernel recorded it when the client connected.
    // TODO (handout: 2.3 Stale credentials): that was then; who is writing now?
    let Ok(peer) = getsockopt(conn, PeerCredentials) else {
        return;
    };
    let pid = peer.pid() as u32;
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match (&mut reader).take(MAX_LINE).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let reply = match line.trim_end_matches('\n').split_once(' ') {
            Some(("READ", name)) => read(pid, name, cache),
            None if line.trim_end() == "CACHE" => format!("CACHE {}\n", cache.len()).into_bytes(),
            _ => b"ERROR unknown request: expected READ <name> or CACHE\n".to_vec(),
        };
        if (&*conn).write_all(&reply).is_err() {
            return;
        }
    }
}

fn read(pid: u32, name: &str, cache: &Cache) -> Vec<u8> {
    if !cache.get_or(pid, "read", || ask::may_read(pid)) {
        return format!("DENIED pid {pid} may not read the litterbox\n").into_bytes();
    }
    // TODO (handout: 2.1 The confused deputy): whose authority opens this path?
    match std::fs::read(format!("litterbox/{name}")) {
        Ok(body) => {
            let mut reply = format!("OK {}\n", body.len()).into_bytes();
            reply.extend_from_slice(&body);
            reply
        }
        Err(e) => format!("ERROR {e}: litterbox/{name}\n").into_bytes(),
    }
}
