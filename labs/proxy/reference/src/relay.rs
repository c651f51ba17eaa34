//! The proxy proper: accept clients, give each its own thread and its own connection to the
//! server, and move packets both ways while logging, policing and injecting faults. Every
//! request gets an answer: the server's, or an ERROR from the proxy when it was denied, hit by an
//! error fault, or the server is gone. A client never waits for a reply that cannot come (except
//! a request the plan drops on purpose).

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::args::{Args, Mode};
use crate::faults::{self, Fault, Plan};
use crate::log::Log;
use crate::policy::Policy;
use crate::sock::{self, Conn, Got};
use crate::wire::{self, Header};

/// What every connection shares.
struct Shared {
    server: PathBuf,
    log: Log,
    policy: Policy,
    plan: Option<Plan>,
    /// Client-to-server messages seen so far (message k of the fault plan is the k-th).
    requests: AtomicU64,
}

pub fn serve(args: Args) -> Result<(), String> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.log)
        .map_err(|e| format!("cannot open the log {}: {e}", args.log.display()))?;
    let policy = match &args.mode {
        Mode::Forward => Policy::Open,
        Mode::Learn(path) => Policy::learn(path),
        Mode::Enforce(path) => Policy::enforce(path)?,
    };
    let plan = args.faults.as_deref().map(Plan::read).transpose()?;
    let shared = Arc::new(Shared {
        server: args.server.clone(),
        log: Log::new(file),
        policy,
        plan,
        requests: AtomicU64::new(0),
    });
    let listener = sock::listen_at(&args.listen)?;
    println!("proxy ready {}", args.listen.display());
    let _ = std::io::stdout().flush();
    let mut next_conn = 0u64;
    loop {
        let client = sock::accept(&listener).map_err(|e| format!("accept: {e}"))?;
        let id = next_conn;
        next_conn += 1;
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || Relay::new(id, client, shared).run());
    }
}

/// Packets taken from one side per wake-up, at most.
const BATCH: usize = 32;

/// A request held back by a reorder fault, until the next one has gone (or `until`).
struct Held {
    packet: Vec<u8>,
    header: Header,
    until: Instant,
}

struct Relay {
    id: u64,
    client: Conn,
    upstream: Option<Conn>,
    /// Requests the server has and has not answered yet, oldest first.
    in_flight: VecDeque<Header>,
    held: Option<Held>,
    /// Log lines not written yet, and packets for the client not sent yet: both go out in
    /// `flush`, the lines first.
    lines: Vec<u8>,
    to_client: Vec<Vec<u8>>,
    shared: Arc<Shared>,
}

impl Relay {
    fn new(id: u64, client: Conn, shared: Arc<Shared>) -> Relay {
        Relay {
            id,
            client,
            upstream: None,
            in_flight: VecDeque::new(),
            held: None,
            lines: Vec::new(),
            to_client: Vec::new(),
            shared,
        }
    }

    fn run(mut self) {
        loop {
            let timeout = match &self.held {
                None => PollTimeout::NONE,
                Some(h) => {
                    let left = h.until.saturating_duration_since(Instant::now());
                    PollTimeout::from(u16::try_from(left.as_millis()).unwrap_or(u16::MAX))
                }
            };
            let (client_ready, upstream_ready) = {
                let mut fds = vec![PollFd::new(self.client.fd(), PollFlags::POLLIN)];
                if let Some(up) = &self.upstream {
                    fds.push(PollFd::new(up.fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, timeout) {
                    Ok(_) => {}
                    Err(Errno::EINTR) => continue,
                    Err(e) => {
                        eprintln!("proxy: poll: {e}");
                        return;
                    }
                }
                let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
                (ready(&fds[0]), fds.get(1).is_some_and(ready))
            };
            // Take what is queued on each side, a bounded number so neither side starves the
            // other; then the gathered log lines, then the packets for the client.
            if upstream_ready {
                for _ in 0..BATCH {
                    if !self.on_reply() {
                        break;
                    }
                }
            }
            if client_ready {
                for _ in 0..BATCH {
                    match self.client.try_recv() {
                        Ok(Some(Got::Packet(p))) => self.on_request(p),
                        Ok(None) => break,
                        Ok(Some(Got::Closed)) | Err(_) => {
                            self.flush();
                            return;
                        }
                    }
                }
            }
            if self
                .held
                .as_ref()
                .is_some_and(|h| Instant::now() >= h.until)
            {
                self.release_held();
            }
            self.flush();
        }
    }

    fn log(&mut self, dir: &str, k: Option<u64>, h: &Header, packet: &[u8], action: &str) {
        let lines = &mut self.lines;
        self.shared
            .log
            .line(lines, dir, self.id, k, h, packet, action);
    }

    /// Writes the gathered log lines, then sends what waits for the client.
    fn flush(&mut self) {
        self.shared.log.flush(&mut self.lines);
        for packet in self.to_client.drain(..) {
            if self.client.send(&packet).is_err() {
                eprintln!("proxy: connection {}: the client is gone", self.id);
            }
        }
    }

    /// A proxy-made ERROR to the client, logged as p2c.
    fn answer_error(&mut self, to: &Header, reason: &str) {
        let packet = wire::error_reply(to.src, to.seq, reason);
        if let Some(h) = wire::header(&packet) {
            self.log("p2c", None, &h, &packet, "reply");
        }
        self.to_client.push(packet);
    }

    /// The server went away: every request it still owed gets an ERROR.
    fn lose_upstream(&mut self, reason: &str) {
        self.upstream = None;
        while let Some(h) = self.in_flight.pop_front() {
            self.answer_error(&h, reason);
        }
    }

    /// Sends a request to the server, connecting first when there is no connection.
    fn forward(&mut self, header: &Header, packet: &[u8]) {
        if self.upstream.is_none() {
            match Conn::connect(&self.shared.server) {
                Ok(conn) => self.upstream = Some(conn),
                Err(e) => {
                    self.answer_error(header, &format!("server unavailable: {e}"));
                    return;
                }
            }
        }
        let sent = self.upstream.as_ref().map(|up| up.send(packet));
        match sent {
            Some(Ok(())) => self.in_flight.push_back(*header),
            _ => {
                self.lose_upstream("server connection lost");
                self.answer_error(header, "server connection lost");
            }
        }
    }

    fn release_held(&mut self) {
        if let Some(held) = self.held.take() {
            self.forward(&held.header, &held.packet);
        }
    }

    fn on_request(&mut self, mut packet: Vec<u8>) {
        let Some(h) = wire::header(&packet) else {
            let none = Header {
                src: 0,
                dst: 0,
                kind: 0,
                seq: 0,
            };
            self.answer_error(&none, "packet shorter than the 16-byte header");
            return;
        };
        let k = self.shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.shared.policy.admit(&h) {
            self.log("c2s", Some(k), &h, &packet, "deny");
            self.answer_error(&h, "denied by policy");
            return;
        }
        let hit = self.shared.plan.as_ref().and_then(|p| p.decide(k));
        let action = hit.map_or("forward", |hit| hit.fault.name());
        self.log("c2s", Some(k), &h, &packet, action);
        let earlier = self.held.take();
        match hit {
            None => self.forward(&h, &packet),
            Some(hit) => match hit.fault {
                Fault::Drop => {}
                Fault::Duplicate => {
                    self.forward(&h, &packet);
                    self.forward(&h, &packet);
                }
                Fault::Corrupt => {
                    faults::corrupt(&mut packet, hit.draw);
                    self.forward(&h, &packet);
                }
                Fault::Truncate => {
                    faults::truncate(&mut packet, hit.draw);
                    self.forward(&h, &packet);
                }
                Fault::Delay => {
                    self.flush();
                    std::thread::sleep(Duration::from_millis(hit.ms));
                    self.forward(&h, &packet);
                }
                Fault::Reorder => {
                    let until = Instant::now() + Duration::from_millis(hit.ms);
                    self.held = Some(Held {
                        packet,
                        header: h,
                        until,
                    });
                }
                Fault::Error => self.answer_error(&h, "injected fault"),
                Fault::Kill => self.kill_server(&h),
            },
        }
        // A request held by reorder goes right after the one that came next.
        if let Some(held) = earlier {
            self.forward(&held.header, &held.packet);
        }
    }

    fn kill_server(&mut self, h: &Header) {
        if self.upstream.is_none() {
            self.upstream = Conn::connect(&self.shared.server).ok();
        }
        match self.upstream.as_ref().and_then(Conn::peer_pid) {
            Some(pid) if pid > 0 => {
                if let Err(e) = kill(Pid::from_raw(pid), Signal::SIGKILL) {
                    eprintln!("proxy: kill fault: cannot kill the server (pid {pid}): {e}");
                }
            }
            _ => eprintln!("proxy: kill fault: no server to kill"),
        }
        self.lose_upstream("server killed by the fault plan");
        self.answer_error(h, "server killed by the fault plan");
    }

    /// Handles one queued reply; false when none was queued (or the server is gone).
    fn on_reply(&mut self) -> bool {
        let got = match self.upstream.as_mut().map(Conn::try_recv) {
            Some(Ok(Some(got))) => got,
            Some(Ok(None)) | None => return false,
            Some(Err(_)) => Got::Closed,
        };
        let packet = match got {
            Got::Packet(p) => p,
            Got::Closed => {
                self.lose_upstream("server connection lost");
                return false;
            }
        };
        let Some(h) = wire::header(&packet) else {
            return true;
        };
        let owed = self.in_flight.iter().position(|r| r.seq == h.seq);
        let owed = owed.and_then(|i| self.in_flight.remove(i));
        if !self.shared.policy.admit(&h) {
            self.log("s2c", None, &h, &packet, "deny");
            if let Some(request) = owed {
                self.answer_error(&request, "reply denied by policy");
            }
            return true;
        }
        self.log("s2c", None, &h, &packet, "forward");
        self.to_client.push(packet);
        true
    }
}
