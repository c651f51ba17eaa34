//! The proxy proper: accept clients, give each its own thread and its own connection to the
//! server, and move packets both ways.
//!
//! What the starter does not do yet (each TODO names the handout section):
//! - log anything (handout: 1.4 One line per message);
//! - learn or enforce a policy (handout: 2.2 Learn, 2.3 Enforce: a rule is a triple);
//! - apply a fault plan (handout: 3.1 A fault plan is data);
//! - survive the server's death (handout: 3.5 When the server dies, 3.6 Reconnect).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::args::{Args, Mode};
use crate::sock::{self, Conn, Got};

struct Shared {
    server: PathBuf,
}

pub fn serve(args: Args) -> Result<(), String> {
    // TODO (handout: 1.4 One line per message): write one JSON line per message to this file.
    let _log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.log)
        .map_err(|e| format!("cannot open the log {}: {e}", args.log.display()))?;
    if !matches!(args.mode, Mode::Forward) {
        // TODO (handout: 2.2 Learn, 2.3 Enforce: a rule is a triple)
        eprintln!("proxy: --learn and --enforce are not implemented yet; forwarding everything");
    }
    if args.faults.is_some() {
        // TODO (handout: 3.1 A fault plan is data)
        eprintln!("proxy: --faults is not implemented yet; forwarding everything");
    }
    let shared = Arc::new(Shared {
        server: args.server.clone(),
    });
    let listener = sock::listen_at(&args.listen)?;
    println!("proxy ready {}", args.listen.display());
    let _ = std::io::stdout().flush();
    loop {
        let client = sock::accept(&listener).map_err(|e| format!("accept: {e}"))?;
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || relay(client, &shared));
    }
}

fn relay(mut client: Conn, shared: &Shared) {
    // TODO (handout: 3.6 Reconnect): one connection for the client's whole life is not enough
    // once the server can die and come back.
    let mut upstream = match Conn::connect(&shared.server) {
        Ok(conn) => conn,
        Err(e) => {
            eprintln!("proxy: cannot reach the server: {e}");
            return;
        }
    };
    loop {
        let (from_client, from_server) = {
            let mut fds = [
                PollFd::new(client.fd(), PollFlags::POLLIN),
                PollFd::new(upstream.fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
            let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), ready(&fds[1]))
        };
        if from_server {
            match upstream.recv() {
                Ok(Got::Packet(p)) => {
                    if client.send(&p).is_err() {
                        return;
                    }
                }
                // TODO (handout: 3.5 When the server dies): the client is left without answers.
                Ok(Got::Closed) | Err(_) => return,
            }
        }
        if from_client {
            match client.recv() {
                Ok(Got::Packet(p)) => {
                    if upstream.send(&p).is_err() {
                        return;
                    }
                }
                Ok(Got::Closed) | Err(_) => return,
            }
        }
    }
}
