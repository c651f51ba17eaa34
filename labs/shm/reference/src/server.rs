//! The job server: a main thread that owns the socket (connections, handshakes, the killer's
//! requests) and N worker threads that claim submitted jobs and perform them.
//!
//! The trust boundary runs through this file. A worker must never use a value from shared
//! memory twice (it copies each field once, then validates the copy), never interpret a
//! client's descriptor number in the server's own descriptor table (it only uses descriptors
//! the client passed at connect), never believe the `pid` field (the kernel says who the peer
//! is), and never map memory that can shrink (see `region`).

use crate::abi::{self, SharedJob, offset};
use crate::audit::{Audit, V};
use crate::region::Region;
use crate::{rendezvous, wire};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType, UCred};
use rustix::thread::futex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Most worker threads `server N` accepts.
pub const MAX_WORKERS: usize = 64;
/// Most connections (clients and not-yet-identified peers) at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// Bytes of the doorbell region (one page; the sequence word is at offset 0).
const DOORBELL_SIZE: usize = 4096;
/// How long the killer's request may wait for the threads to stop.
const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// One connected client: who the kernel says it is, its job buffer and the descriptors it lent.
#[derive(Debug)]
struct Client {
    id: u64,
    peer: UCred,
    job: Region,
    fds: HashMap<i32, OwnedFd>,
    /// The last lying `pid` value logged for this client (to log each lie once, not per job).
    last_lie: AtomicI32,
}

impl Client {
    fn shared(&self) -> SharedJob {
        // SAFETY: the region is MAP_SIZE bytes, page-aligned, and lives as long as `self`.
        unsafe { SharedJob::new(self.job.ptr()) }
    }
}

/// What the main thread and the workers share.
#[derive(Debug)]
struct Shared {
    clients: RwLock<Vec<Arc<Client>>>,
    next: AtomicUsize,
    doorbell: Region,
    stop_tokens: AtomicUsize,
    audit: Audit,
}

impl Shared {
    fn seq(&self) -> &AtomicU32 {
        // SAFETY: offset 0 of a page-aligned mapping that lives as long as `self`.
        unsafe { AtomicU32::from_ptr(self.doorbell.ptr().cast()) }
    }

    fn wake_workers(&self, n: u32) {
        self.seq().fetch_add(1, Ordering::Release);
        // Shared (not PRIVATE): clients ring this word from their own mappings.
        let _ = futex::wake(self.seq(), futex::Flags::empty(), n);
    }

    /// Claim one submitted job, starting at a rotating client so that a flooding client
    /// cannot starve the others.
    fn claim(&self) -> Option<Arc<Client>> {
        let clients = self.clients.read().unwrap_or_else(|p| p.into_inner());
        let n = clients.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            let c = &clients[(start + i) % n];
            let won = c.shared().status().compare_exchange(
                abi::JOB_REQUESTED,
                abi::JOB_IN_PROGRESS,
                Ordering::Acquire,
                Ordering::Relaxed,
            );
            if won.is_ok() {
                return Some(Arc::clone(c));
            }
        }
        None
    }

    fn take_stop_token(&self) -> bool {
        self.stop_tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(1))
            .is_ok()
    }
}

fn neg(e: Errno) -> i32 {
    -e.raw_os_error()
}

/// Perform one claimed job and publish its answer.
fn serve(sh: &Shared, c: &Client) {
    let job = c.shared();
    // One snapshot of every field the job uses; nothing below reads them again.
    let claimed_pid = job.load(offset::PID);
    let cmd = job.load(offset::CMD);
    let arg1 = job.load(offset::ARG1);
    let arg2 = job.load(offset::ARG2);
    let len = job.load(offset::BUFFER_LEN);

    let real = c.peer.pid.as_raw_nonzero().get();
    if claimed_pid != real && c.last_lie.swap(claimed_pid, Ordering::Relaxed) != claimed_pid {
        sh.audit.log(
            "pid-mismatch",
            &[
                ("client", V::I(c.id as i64)),
                ("claimed_pid", V::I(claimed_pid.into())),
                ("peer_pid", V::I(real.into())),
                ("peer_uid", V::I(c.peer.uid.as_raw().into())),
            ],
            true,
        );
    }

    let response = match cmd {
        abi::CMD_WRITE => match (usize::try_from(len), c.fds.get(&arg1)) {
            (Ok(n), _) if n > abi::BUFFER_SIZE => -libc_einval(),
            (Err(_), _) => -libc_einval(),
            (_, None) => neg(Errno::BADF),
            (Ok(n), Some(fd)) => {
                let mut data = [0u8; abi::BUFFER_SIZE];
                job.copy_out(&mut data[..n]);
                match rustix::io::write(fd, &data[..n]) {
                    Ok(w) => w as i32,
                    Err(e) => neg(e),
                }
            }
        },
        abi::CMD_READ => match (usize::try_from(arg2), c.fds.get(&arg1)) {
            (Ok(n), _) if n > abi::BUFFER_SIZE => -libc_einval(),
            (Err(_), _) => -libc_einval(),
            (_, None) => neg(Errno::BADF),
            (Ok(n), Some(fd)) => {
                let mut data = [0u8; abi::BUFFER_SIZE];
                match rustix::io::read(fd, &mut data[..n]) {
                    Ok(r) => {
                        job.copy_in(&data[..r]);
                        job.store(offset::BUFFER_LEN, r as i32);
                        r as i32
                    }
                    Err(e) => neg(e),
                }
            }
        },
        abi::CMD_GETPID => real,
        _ => neg(Errno::NOSYS),
    };
    job.store(offset::RESPONSE, response);
    job.status().store(abi::JOB_DONE, Ordering::Release);
    let _ = futex::wake(job.status(), futex::Flags::empty(), u32::MAX >> 1);
}

fn libc_einval() -> i32 {
    Errno::INVAL.raw_os_error()
}

fn worker(sh: Arc<Shared>, index: usize, exited: mpsc::Sender<usize>) {
    loop {
        if sh.take_stop_token() {
            break;
        }
        let seen = sh.seq().load(Ordering::Acquire);
        if let Some(c) = sh.claim() {
            serve(&sh, &c);
            continue;
        }
        // Sleeps until the word differs from `seen`; EAGAIN and EINTR just mean "look again".
        let _ = futex::wait(sh.seq(), futex::Flags::empty(), seen, None);
    }
    // The wake that woke us may have been meant for a job: pass it on.
    sh.wake_workers(1);
    let _ = exited.send(index);
}

/// One accepted connection: a client once its HELLO was accepted.
struct Conn {
    sock: OwnedFd,
    client: Option<Arc<Client>>,
}

struct Server {
    sh: Arc<Shared>,
    path: PathBuf,
    workers: HashMap<usize, std::thread::JoinHandle<()>>,
    exited_rx: mpsc::Receiver<usize>,
    next_client: u64,
}

/// `server N`. Exit status: 0 after the last worker stopped, 1 on a run-time failure,
/// 2 on a usage error.
pub fn main_with_args(args: &[String]) -> ExitCode {
    let n = match args {
        [n] => match n.parse::<usize>() {
            Ok(n) if (1..=MAX_WORKERS).contains(&n) => n,
            _ => {
                eprintln!("server: N must be a whole number from 1 to {MAX_WORKERS}, not `{n}`");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: server N   (N worker threads, 1 to {MAX_WORKERS})");
            return ExitCode::from(2);
        }
    };
    match run(n) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server: {e}");
            ExitCode::from(1)
        }
    }
}

fn listen_at(path: &Path) -> Result<OwnedFd, String> {
    let addr = SocketAddrUnix::new(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Someone already answering there? Then do not steal the path.
    if path.exists() {
        let probe = rustix::net::socket(AddressFamily::UNIX, SocketType::SEQPACKET, None)
            .map_err(|e| format!("socket: {e}"))?;
        if rustix::net::connect(&probe, &addr).is_ok() {
            return Err(format!(
                "another server is already listening on {} (stop it with server_killer)",
                path.display()
            ));
        }
        let _ = std::fs::remove_file(path);
    }
    // Bind under a temporary name and rename into place once listening, so that a client
    // that sees the path appear can connect at once.
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let sock = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(|e| format!("socket: {e}"))?;
    let tmp_addr = SocketAddrUnix::new(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    rustix::net::bind(&sock, &tmp_addr).map_err(|e| format!("bind {}: {e}", tmp.display()))?;
    rustix::net::listen(&sock, 128).map_err(|e| format!("listen: {e}"))?;
    // Any user may connect; who they are is checked per connection.
    rustix::fs::chmod(&tmp, rustix::fs::Mode::from_raw_mode(0o777))
        .map_err(|e| format!("chmod {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("rename to {}: {e}", path.display()))?;
    Ok(sock)
}

fn run(n: usize) -> Result<(), String> {
    let path = rendezvous::socket_path();
    let audit = Audit::open()?;
    let doorbell = Region::create("shm-ipc-doorbell", DOORBELL_SIZE)?;
    let listener = listen_at(&path)?;
    let sh = Arc::new(Shared {
        clients: RwLock::new(Vec::new()),
        next: AtomicUsize::new(0),
        doorbell,
        stop_tokens: AtomicUsize::new(0),
        audit,
    });
    let (tx, exited_rx) = mpsc::channel();
    let mut workers = HashMap::new();
    for i in 0..n {
        let (sh, tx) = (Arc::clone(&sh), tx.clone());
        let h = std::thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || worker(sh, i, tx))
            .map_err(|e| format!("cannot start worker thread {i}: {e}"))?;
        workers.insert(i, h);
    }
    drop(tx);
    println!(
        "server ready pid={} workers={n} socket={}",
        std::process::id(),
        path.display()
    );
    sh.audit.log(
        "ready",
        &[
            ("pid", V::I(std::process::id().into())),
            ("workers", V::I(n as i64)),
        ],
        false,
    );
    let mut server = Server {
        sh,
        path,
        workers,
        exited_rx,
        next_client: 1,
    };
    let result = server.serve_connections(&listener);
    let _ = std::fs::remove_file(&server.path);
    result
}

impl Server {
    fn serve_connections(&mut self, listener: &OwnedFd) -> Result<(), String> {
        let mut conns: Vec<Conn> = Vec::new();
        while !self.workers.is_empty() {
            let mut ready = vec![false; conns.len()];
            let listener_ready;
            {
                let mut fds = Vec::with_capacity(conns.len() + 1);
                fds.push(PollFd::new(listener, PollFlags::IN));
                for c in &conns {
                    fds.push(PollFd::new(&c.sock, PollFlags::IN));
                }
                match poll(&mut fds, None) {
                    Ok(_) | Err(Errno::INTR) => {}
                    Err(e) => return Err(format!("poll: {e}")),
                }
                listener_ready = !fds[0].revents().is_empty();
                for (r, f) in ready.iter_mut().zip(&fds[1..]) {
                    *r = !f.revents().is_empty();
                }
            }
            // Connections that are done are removed, from the back so indexes stay valid.
            for i in (0..conns.len()).rev() {
                if ready[i] && !self.on_message(&mut conns[i]) {
                    let c = conns.swap_remove(i);
                    if let Some(client) = c.client {
                        self.forget(&client);
                    }
                }
            }
            if listener_ready {
                loop {
                    match rustix::net::accept_with(listener, SocketFlags::CLOEXEC) {
                        Ok(sock) if conns.len() < MAX_CONNECTIONS => {
                            conns.push(Conn { sock, client: None })
                        }
                        Ok(_) => self.sh.audit.log("too-many-connections", &[], true),
                        Err(Errno::AGAIN) | Err(Errno::INTR) => break,
                        Err(Errno::CONNABORTED) => continue,
                        Err(e) => return Err(format!("accept: {e}")),
                    }
                    if conns.len() >= MAX_CONNECTIONS {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Handle what arrived on one connection; false when it is to be closed.
    fn on_message(&mut self, conn: &mut Conn) -> bool {
        let msg = match wire::recv(conn.sock.as_fd(), true) {
            Ok(Some(m)) => m,
            Err(Errno::AGAIN) | Err(Errno::INTR) => return true,
            Ok(None) | Err(_) => return false,
        };
        if conn.client.is_some() {
            // After the HELLO a client has nothing more to say: anything else ends it.
            return false;
        }
        let peer = match rustix::net::sockopt::socket_peercred(&conn.sock) {
            Ok(p) => p,
            Err(_) => return false,
        };
        if msg.bytes.starts_with(wire::KILL) {
            self.on_kill(&conn.sock, peer, &msg.bytes);
            return false;
        }
        match self.handshake(peer, msg) {
            Ok(client) => {
                if wire::send(
                    conn.sock.as_fd(),
                    wire::OK,
                    &[self.sh.doorbell.fd().as_fd()],
                )
                .is_err()
                {
                    return false;
                }
                self.sh.audit.log(
                    "connect",
                    &[
                        ("client", V::I(client.id as i64)),
                        (
                            "peer_pid",
                            V::I(client.peer.pid.as_raw_nonzero().get().into()),
                        ),
                        ("peer_uid", V::I(client.peer.uid.as_raw().into())),
                        ("fds", V::I(client.fds.len() as i64)),
                    ],
                    false,
                );
                self.sh
                    .clients
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Arc::clone(&client));
                conn.client = Some(client);
                true
            }
            Err(reason) => {
                self.sh.audit.log(
                    "reject",
                    &[
                        ("peer_pid", V::I(peer.pid.as_raw_nonzero().get().into())),
                        ("peer_uid", V::I(peer.uid.as_raw().into())),
                        ("reason", V::S(&reason)),
                    ],
                    true,
                );
                let _ = wire::send(conn.sock.as_fd(), &wire::err(&reason), &[]);
                false
            }
        }
    }

    fn handshake(&mut self, peer: UCred, msg: wire::Received) -> Result<Arc<Client>, String> {
        if msg.truncated {
            return Err("HELLO too long or with too many descriptors".into());
        }
        let numbers = wire::parse_hello(&msg.bytes).map_err(str::to_string)?;
        let mut fds = msg.fds;
        if fds.len() != numbers.len() + 1 {
            return Err(format!(
                "HELLO names {} descriptors but carries {} (the job memfd comes first)",
                numbers.len(),
                fds.len()
            ));
        }
        let job = Region::adopt(fds.remove(0), abi::MAP_SIZE)?;
        let mut lent = HashMap::new();
        for (number, fd) in numbers.into_iter().zip(fds) {
            if lent.insert(number, fd).is_some() {
                return Err(format!("HELLO names descriptor {number} twice"));
            }
        }
        let id = self.next_client;
        self.next_client += 1;
        Ok(Arc::new(Client {
            id,
            peer,
            job,
            fds: lent,
            last_lie: AtomicI32::new(peer.pid.as_raw_nonzero().get()),
        }))
    }

    fn forget(&self, client: &Arc<Client>) {
        self.sh
            .clients
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|c| c.id != client.id);
        self.sh
            .audit
            .log("disconnect", &[("client", V::I(client.id as i64))], false);
    }

    fn on_kill(&mut self, sock: &OwnedFd, peer: UCred, bytes: &[u8]) {
        let me = rustix::process::geteuid();
        let who = [
            ("peer_pid", V::I(peer.pid.as_raw_nonzero().get().into())),
            ("peer_uid", V::I(peer.uid.as_raw().into())),
        ];
        if peer.uid != me {
            self.sh.audit.log("kill-refused", &who, true);
            let reason = format!(
                "refused: only uid {} (the server's owner) may stop its threads, not uid {}",
                me.as_raw(),
                peer.uid.as_raw()
            );
            let _ = wire::send(sock.as_fd(), &wire::err(&reason), &[]);
            return;
        }
        let Some(asked) = wire::parse_kill(bytes).filter(|n| *n > 0) else {
            let _ = wire::send(
                sock.as_fd(),
                &wire::err("KILL needs a count of at least 1"),
                &[],
            );
            return;
        };
        let k = (asked as usize).min(self.workers.len());
        self.sh.stop_tokens.fetch_add(k, Ordering::AcqRel);
        self.sh.wake_workers(u32::MAX >> 1);
        let deadline = Instant::now() + STOP_DEADLINE;
        let mut stopped = 0;
        while stopped < k {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.exited_rx.recv_timeout(left) {
                Ok(i) => {
                    if let Some(h) = self.workers.remove(&i) {
                        let _ = h.join();
                    }
                    stopped += 1;
                }
                Err(_) => break,
            }
        }
        let left = self.workers.len();
        self.sh.audit.log(
            "kill",
            &[
                who[0].clone(),
                who[1].clone(),
                ("stopped", V::I(stopped as i64)),
                ("left", V::I(left as i64)),
            ],
            false,
        );
        let _ = wire::send(
            sock.as_fd(),
            &wire::killed(stopped as u32, left as u32),
            &[],
        );
    }
}
