//! The event loop: one thread, poll over the listening socket, permd's notices and the clients.
//!
//! Every request is served only after pending `FORGET` notices and ended processes have been
//! applied to the cache, so an answer that permd withdrew or whose process is gone is never used.
//! Bounded everywhere: 64 clients, 4096-byte request lines, 2 s to write a reply.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::cache::Cache;
use crate::identity::{self, Sender};
use crate::inherit;
use crate::open::{self, Refusal};
use crate::permd::{self, Answer};

const SOCKET: &str = "fsd.sock";
const MAX_CLIENTS: usize = 64;
const MAX_LINE: usize = 4096;

struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
    /// The process that sent the bytes in `buf`.
    sender: Option<Sender>,
}

struct Service {
    query: OwnedFd,
    notify: OwnedFd,
    cache: Cache,
}

pub fn run() -> Result<(), String> {
    let query = inherit::permd_channel("DEPUTY_PERMD_FD")?;
    let notify = inherit::socket("DEPUTY_NOTIFY_FD")?;
    // Every user may connect (permd decides who may read): the socket is made 0666 from the
    // start, so no client ever meets it half set up.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o111));
    let listener = listen().map_err(|e| format!("cannot listen on ./{SOCKET}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    println!("fsd: listening on ./{SOCKET}");
    let mut svc = Service {
        query,
        notify,
        cache: Cache::default(),
    };
    let mut clients: Vec<Client> = Vec::new();
    loop {
        let mut fds = vec![
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(svc.notify.as_fd(), PollFlags::POLLIN),
        ];
        fds.extend(
            clients
                .iter()
                .map(|c| PollFd::new(c.stream.as_fd(), PollFlags::POLLIN)),
        );
        match poll(&mut fds, PollTimeout::from(1000u16)) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        svc.forget();
        if ready[0] {
            accept_all(&listener, &mut clients);
        }
        let mut keep = Vec::with_capacity(clients.len());
        for (i, mut c) in clients.into_iter().enumerate() {
            let alive = !ready.get(i + 2).copied().unwrap_or(false) || svc.serve(&mut c);
            if alive {
                keep.push(c);
            }
        }
        clients = keep;
    }
}

/// socket, SO_PASSCRED + SO_PASSPIDFD, bind, listen: in that order, so that every accepted
/// socket inherits the options from its first byte on (set later, a client's first messages
/// could arrive without credentials).
fn listen() -> std::io::Result<UnixListener> {
    use nix::sys::socket::{AddressFamily, Backlog, SockFlag, SockType, UnixAddr, bind, socket};
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    identity::pass_credentials(&fd)?;
    bind(fd.as_raw_fd(), &UnixAddr::new(SOCKET)?)?;
    nix::sys::socket::listen(&fd, Backlog::new(64)?)?;
    Ok(UnixListener::from(fd))
}

fn accept_all(listener: &UnixListener, clients: &mut Vec<Client>) {
    while let Ok((mut stream, _)) = listener.accept() {
        if clients.len() >= MAX_CLIENTS {
            let _ = stream.write_all(b"ERROR too many clients\n");
            continue;
        }
        if identity::pass_credentials(&stream).is_err()
            || stream.set_nonblocking(false).is_err()
            || stream
                .set_write_timeout(Some(Duration::from_secs(2)))
                .is_err()
        {
            continue;
        }
        clients.push(Client {
            stream,
            buf: Vec::new(),
            sender: None,
        });
    }
}

impl Service {
    /// Apply permd's notices and drop the answers of processes that have ended.
    fn forget(&mut self) {
        for uid in permd::notices(&self.notify) {
            self.cache.forget_uid(uid);
        }
        self.cache.forget_exited();
    }

    /// Read what the client sent and answer every complete line; false to drop the client.
    fn serve(&mut self, c: &mut Client) -> bool {
        let mut chunk = [0u8; MAX_LINE];
        let (n, sender) = match identity::recv_from(c.stream.as_raw_fd(), &mut chunk) {
            Ok((0, _)) => return false,
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        };
        let Some(sender) = sender else {
            let _ = c
                .stream
                .write_all(b"ERROR the kernel did not name the sender\n");
            return false;
        };
        // A request must come from one process: bytes from two senders never make one line.
        if !c.buf.is_empty() && c.sender.as_ref().is_some_and(|s| s.ino != sender.ino) {
            let _ = c
                .stream
                .write_all(b"DENIED a request must come from one process\n");
            return false;
        }
        c.buf.extend_from_slice(&chunk[..n]);
        c.sender = Some(sender);
        while let Some(pos) = c.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = c.buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            let Some(sender) = c.sender.as_ref() else {
                return false;
            };
            let reply = self.answer(&line, sender);
            if c.stream.write_all(&reply).is_err() {
                return false;
            }
        }
        if c.buf.len() > MAX_LINE {
            let _ = c
                .stream
                .write_all(b"ERROR request line longer than 4096 bytes\n");
            return false;
        }
        true
    }

    fn answer(&mut self, line: &str, sender: &Sender) -> Vec<u8> {
        self.forget();
        match line.split_once(' ') {
            Some(("READ", name)) => self.read(name, sender),
            None if line == "CACHE" => format!("CACHE {}\n", self.cache.len()).into_bytes(),
            _ => b"ERROR unknown request: expected READ <name> or CACHE\n".to_vec(),
        }
    }

    fn read(&mut self, name: &str, sender: &Sender) -> Vec<u8> {
        if self.cache.get(sender.ino).is_none() {
            let answer = match permd::ask(&self.query, sender.uid) {
                Ok(a) => a,
                Err(e) => return format!("ERROR {e}\n").into_bytes(),
            };
            let Ok(pidfd) = sender.pidfd.try_clone() else {
                return b"ERROR out of descriptors\n".to_vec();
            };
            let grant = match answer {
                Answer::Granted(dir) => Some(dir),
                Answer::Refused => None,
            };
            self.cache.insert(sender.ino, sender.uid, pidfd, grant);
        }
        let Some(dir) = self.cache.get(sender.ino).and_then(|e| e.grant.as_ref()) else {
            return format!("DENIED uid {} may not read the litterbox\n", sender.uid).into_bytes();
        };
        match open::read_beneath(dir, name) {
            Ok(body) => {
                let mut reply = format!("OK {}\n", body.len()).into_bytes();
                reply.extend_from_slice(&body);
                reply
            }
            Err(Refusal::Outside(why)) => format!("DENIED {why}\n").into_bytes(),
            Err(Refusal::Failed(why)) => format!("ERROR {why}\n").into_bytes(),
        }
    }
}
