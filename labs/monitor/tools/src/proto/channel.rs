//! The programs' side of IPC: a client's `call` (blocks until the reply or an error code) and a
//! server's `recv` / `reply`, over the channel ends a program inherited from its monitor.
//!
//! A program finds its ends in its environment, set by the monitor that started it:
//! `IPCMON_NAME=alice` (its name in the solution) and
//! `IPCMON_CHANNELS=calc=client:3,admin=server:4` (channel name = side : descriptor).
//! With `IPCMON_DIRECT=1` (benchmarks only) no monitor is in between and `reply` waits for no
//! acknowledgement.
//!
//! Every wait here blocks in poll(2) or recv(2), never spins. This module must never decide
//! what is allowed: the monitor does.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::{RecvFlags, SendFlags};

use super::codes;
use super::wire::{self, HEADER_LEN, Header, Kind};

/// Receive buffer: larger than any valid message, so oversized ones are seen whole.
pub const RECV_BUF: usize = 4096;

/// Why a program could not find its channels.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// A variable is missing: the program was not started by a monitor.
    #[error("{0} is not set: start this program through a monitor (its solution file)")]
    Missing(&'static str),
    /// A variable does not parse.
    #[error("IPCMON_CHANNELS entry `{0}` is not `name=client:FD` or `name=server:FD`")]
    Bad(String),
    /// No channel of that name and side.
    #[error("no {side} channel named `{name}` (have: {have})")]
    NoSuchChannel {
        /// Requested name.
        name: String,
        /// client or server.
        side: &'static str,
        /// What the environment lists.
        have: String,
    },
}

/// One end of a channel this program holds.
#[derive(Debug)]
pub struct End {
    /// Channel name.
    pub name: String,
    /// The socket.
    pub fd: OwnedFd,
}

/// What a program got from its monitor.
#[derive(Debug)]
pub struct Ends {
    /// The program's name (IPCMON_NAME).
    pub me: String,
    /// Ends on which this program is the client.
    pub clients: Vec<End>,
    /// Ends on which this program is the server.
    pub servers: Vec<End>,
    /// True with IPCMON_DIRECT=1.
    pub direct: bool,
    /// The end of this program's channel to the monitor itself (dynamic channels).
    pub kernel: Option<OwnedFd>,
}

/// The kernel endpoint: what a program asks the monitor itself (riid 0, in no IDL).
pub const KERNEL_RIID: u32 = 0;
/// Kernel method 1, client to monitor: `Connect(server: str<16>, channel: str<16>)`; the
/// reply carries the new client end (SCM_RIGHTS).
pub const KERNEL_CONNECT: u32 = 1;
/// Kernel method 2, monitor to server: `NewChannel(channel: str<16>)`, carrying the new
/// server end (SCM_RIGHTS).
pub const KERNEL_NEW_CHANNEL: u32 = 2;

fn name_field(name: &str) -> super::idl::Field {
    super::idl::Field {
        name: name.to_owned(),
        ty: super::idl::Type::Str(super::wire::SENDER_LEN),
    }
}

/// The fields of Connect's arguments.
pub fn connect_fields() -> Vec<super::idl::Field> {
    vec![name_field("server"), name_field("channel")]
}

/// The field of NewChannel's argument.
pub fn new_channel_fields() -> Vec<super::idl::Field> {
    vec![name_field("channel")]
}

/// Sends `msg` with the descriptor `attach` (SCM_RIGHTS).
pub fn send_with_fd(fd: BorrowedFd<'_>, msg: &[u8], attach: BorrowedFd<'_>) -> bool {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage};
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [attach];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return false;
    }
    let iov = [std::io::IoSlice::new(msg)];
    matches!(rustix::net::sendmsg(fd, &iov, &mut control, SendFlags::NOSIGNAL), Ok(n) if n == msg.len())
}

/// Receives one datagram and the first descriptor attached to it, if any (close-on-exec).
pub fn recv_with_fd(fd: BorrowedFd<'_>) -> std::io::Result<(Vec<u8>, Option<OwnedFd>)> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage};
    let mut buf = vec![0u8; RECV_BUF];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    loop {
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        match rustix::net::recvmsg(fd, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(r) => {
                let mut got = None;
                for m in control.drain() {
                    if let RecvAncillaryMessage::ScmRights(fds) = m {
                        for f in fds {
                            if got.is_none() {
                                got = Some(f);
                            }
                        }
                    }
                }
                let n = r.bytes.min(RECV_BUF);
                buf.truncate(n);
                return Ok((buf, got));
            }
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

impl Ends {
    /// Reads IPCMON_NAME and IPCMON_CHANNELS, taking ownership of the descriptors they name.
    pub fn from_env() -> Result<Ends, EnvError> {
        let me = std::env::var("IPCMON_NAME").map_err(|_| EnvError::Missing("IPCMON_NAME"))?;
        let list =
            std::env::var("IPCMON_CHANNELS").map_err(|_| EnvError::Missing("IPCMON_CHANNELS"))?;
        let direct = std::env::var("IPCMON_DIRECT").is_ok_and(|v| v == "1");
        let mut ends = Ends {
            me,
            clients: Vec::new(),
            servers: Vec::new(),
            direct,
            kernel: None,
        };
        let mut seen: Vec<RawFd> = Vec::new();
        for item in list.split(',').filter(|s| !s.is_empty()) {
            let bad = || EnvError::Bad(item.to_owned());
            let (name, rest) = item.split_once('=').ok_or_else(bad)?;
            let (side, fd) = rest.split_once(':').ok_or_else(bad)?;
            let fd: RawFd = fd.parse().map_err(|_| bad())?;
            if fd < 3 || seen.contains(&fd) {
                return Err(bad());
            }
            // Reject descriptors this process does not have open.
            if rustix::io::fcntl_getfd(
                // SAFETY: only borrowed for this call; fcntl on a closed number fails cleanly.
                unsafe { BorrowedFd::borrow_raw(fd) },
            )
            .is_err()
            {
                return Err(bad());
            }
            seen.push(fd);
            // SAFETY: the monitor passed this descriptor to us for exclusive use, it is open
            // (checked above) and listed once (checked above), so nothing else owns it.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let end = End {
                name: name.to_owned(),
                fd,
            };
            match side {
                "client" => ends.clients.push(end),
                "server" => ends.servers.push(end),
                "kernel" => ends.kernel = Some(end.fd),
                _ => return Err(bad()),
            }
        }
        Ok(ends)
    }

    /// Takes the client end named `name` as a [`Client`].
    pub fn client(&mut self, name: &str) -> Result<Client, EnvError> {
        match self.clients.iter().position(|e| e.name == name) {
            Some(i) => Ok(Client {
                end: self.clients.remove(i),
                me: self.me.clone(),
            }),
            None => Err(EnvError::NoSuchChannel {
                name: name.to_owned(),
                side: "client",
                have: self
                    .clients
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            }),
        }
    }

    /// Takes every server end as one [`Server`].
    pub fn server(&mut self) -> Server {
        Server {
            ends: std::mem::take(&mut self.servers)
                .into_iter()
                .map(Some)
                .collect(),
            direct: self.direct,
            queue: VecDeque::new(),
            kernel: self.kernel.as_ref().and_then(|k| k.try_clone().ok()),
        }
    }

    /// Asks the monitor for a DYNAMIC channel named `channel` to the program `server`; blocks
    /// until the monitor answers with the new client end, or refuses with a code (EDENIED:
    /// no `connect` rule; ENOENDPOINT: no such program; EBADFIELD: the name is taken or bad).
    pub fn connect(&mut self, server: &str, channel: &str) -> Result<Client, u32> {
        use super::idl::{self, Value};
        let kernel = self.kernel.as_ref().ok_or(codes::EGONE)?;
        let args = idl::encode(
            &connect_fields(),
            &[
                Value::Str(server.to_owned()),
                Value::Str(channel.to_owned()),
            ],
        )
        .map_err(|e| e.code())?;
        let msg = wire::encode(
            &Header::new(Kind::Request, KERNEL_RIID, KERNEL_CONNECT, &self.me),
            &args,
        );
        send(kernel.as_fd(), &msg)?;
        loop {
            let (m, fd) = recv_with_fd(kernel.as_fd()).map_err(|_| codes::EGONE)?;
            if m.is_empty() {
                return Err(codes::EGONE);
            }
            match (wire::peek(&m), fd) {
                (Some(h), Some(fd)) if h.kind == Kind::Reply && h.status == codes::OK => {
                    let end = End {
                        name: channel.to_owned(),
                        fd,
                    };
                    return Ok(Client {
                        end,
                        me: self.me.clone(),
                    });
                }
                (Some(h), _) if h.kind == Kind::Error => return Err(h.status),
                _ => continue,
            }
        }
    }
}

/// A delivered reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Application status the server set (codes::APP_*).
    pub status: u32,
    /// The bytes after the header, as received.
    pub payload: Vec<u8>,
}

fn send(fd: BorrowedFd<'_>, msg: &[u8]) -> Result<(), u32> {
    match rustix::net::send(fd, msg, SendFlags::NOSIGNAL) {
        Ok(n) if n == msg.len() => Ok(()),
        _ => Err(codes::EGONE),
    }
}

/// Waits until one of `fds` is readable or hung up; returns which. `None` timeout = forever.
pub fn wait_any(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> std::io::Result<Vec<bool>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut pfds: Vec<PollFd<'_>> = fds
            .iter()
            .map(|fd| PollFd::new(fd, PollFlags::IN))
            .collect();
        let ts = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(left.subsec_nanos()),
            }
        });
        match rustix::event::poll(&mut pfds, ts.as_ref()) {
            Ok(0) => return Ok(vec![false; fds.len()]),
            Ok(_) => return Ok(pfds.iter().map(|p| !p.revents().is_empty()).collect()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives one datagram (empty = the other side closed).
pub fn recv_msg(fd: BorrowedFd<'_>) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        match rustix::net::recv(fd, &mut buf[..], RecvFlags::empty()) {
            Ok((n, _)) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A client end: `call` methods through it.
#[derive(Debug)]
pub struct Client {
    end: End,
    me: String,
}

impl Client {
    /// Wraps a raw end (benchmarks and tests).
    pub fn from_end(end: End, me: &str) -> Client {
        Client {
            end,
            me: me.to_owned(),
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.end.name
    }

    /// Calls `riid`/`mid` with encoded `args`; blocks until the reply (Ok, with the server's
    /// status) or the monitor's refusal (Err, with its code).
    pub fn call(&self, riid: u32, mid: u32, args: &[u8]) -> Result<Reply, u32> {
        self.call_as(&self.me.clone(), riid, mid, args, None)
    }

    /// Like `call` but writes `sender` in the header (honest programs write their own name)
    /// and gives up with ETIMEOUT after `timeout`.
    pub fn call_as(
        &self,
        sender: &str,
        riid: u32,
        mid: u32,
        args: &[u8],
        timeout: Option<Duration>,
    ) -> Result<Reply, u32> {
        let msg = wire::encode(&Header::new(Kind::Request, riid, mid, sender), args);
        self.call_raw(&msg, timeout)
    }

    /// Sends arbitrary bytes as a request and waits for what comes back.
    pub fn call_raw(&self, msg: &[u8], timeout: Option<Duration>) -> Result<Reply, u32> {
        let fd = self.end.fd.as_fd();
        send(fd, msg)?;
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let ready = wait_any(&[fd], left).map_err(|_| codes::EGONE)?;
            if !ready[0] {
                return Err(codes::ETIMEOUT);
            }
            let m = recv_msg(fd).map_err(|_| codes::EGONE)?;
            if m.is_empty() {
                return Err(codes::EGONE);
            }
            match wire::peek(&m) {
                Some(h) if h.kind == Kind::Reply => {
                    return Ok(Reply {
                        status: h.status,
                        payload: m[HEADER_LEN..].to_vec(),
                    });
                }
                Some(h) if h.kind == Kind::Error => return Err(h.status),
                // Anything else on a client end is noise: keep waiting for the answer.
                _ => continue,
            }
        }
    }
}

/// A request a server received.
#[derive(Debug, Clone)]
pub struct Request {
    /// Which of the server's ends it came on (index).
    pub end: usize,
    /// That end's channel name: the monitor's word for who is calling.
    pub channel: String,
    /// Its header.
    pub header: Header,
    /// The bytes after the header.
    pub payload: Vec<u8>,
}

/// All server ends of a program: `recv` from any, `reply` on the one a request came from.
#[derive(Debug)]
pub struct Server {
    ends: Vec<Option<End>>,
    direct: bool,
    queue: VecDeque<Request>,
    kernel: Option<OwnedFd>,
}

/// How long `reply` waits for the monitor's acknowledgement.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);

impl Server {
    /// Wraps raw ends (benchmarks and tests); `direct` = no monitor, no acks.
    pub fn from_ends(ends: Vec<End>, direct: bool) -> Server {
        Server {
            ends: ends.into_iter().map(Some).collect(),
            direct,
            queue: VecDeque::new(),
            kernel: None,
        }
    }

    /// Blocks until a request arrives on any end. Err(EGONE) once every end has closed.
    pub fn recv(&mut self) -> Result<Request, u32> {
        if let Some(r) = self.queue.pop_front() {
            return Ok(r);
        }
        loop {
            let open: Vec<usize> = (0..self.ends.len())
                .filter(|&i| self.ends[i].is_some())
                .collect();
            if open.is_empty() && self.kernel.is_none() {
                return Err(codes::EGONE);
            }
            let mut fds: Vec<BorrowedFd<'_>> = open
                .iter()
                .filter_map(|&i| self.ends[i].as_ref().map(|e| e.fd.as_fd()))
                .collect();
            if let Some(k) = self.kernel.as_ref() {
                fds.push(k.as_fd());
            }
            let ready = wait_any(&fds, None).map_err(|_| codes::EGONE)?;
            drop(fds);
            if self.kernel.is_some() && ready.get(open.len()) == Some(&true) {
                self.new_channel();
            }
            for (k, &i) in open.iter().enumerate() {
                if !ready[k] {
                    continue;
                }
                let Some(end) = self.ends[i].as_ref() else {
                    continue;
                };
                let m = match recv_msg(end.fd.as_fd()) {
                    Ok(m) if !m.is_empty() => m,
                    _ => {
                        self.ends[i] = None;
                        continue;
                    }
                };
                if let Some(h) = wire::peek(&m).filter(|h| h.kind == Kind::Request) {
                    self.queue.push_back(Request {
                        end: i,
                        channel: end.name.clone(),
                        header: h,
                        payload: m[HEADER_LEN..].to_vec(),
                    });
                }
            }
            if let Some(r) = self.queue.pop_front() {
                return Ok(r);
            }
        }
    }

    /// Takes a NewChannel notice from the kernel end: a new server end, added to the others.
    fn new_channel(&mut self) {
        let Some(k) = self.kernel.as_ref() else {
            return;
        };
        match recv_with_fd(k.as_fd()) {
            Ok((m, Some(fd))) if !m.is_empty() => {
                let name = wire::split(&m).ok().and_then(|(h, p)| {
                    (h.riid == KERNEL_RIID && h.mid == KERNEL_NEW_CHANNEL)
                        .then(|| super::idl::decode(&new_channel_fields(), p).ok())
                        .flatten()
                });
                if let Some(super::idl::Value::Str(name)) =
                    name.and_then(|v| v.into_iter().next().map(|(_, v)| v))
                {
                    self.ends.push(Some(End { name, fd }));
                }
            }
            Ok((m, _)) if !m.is_empty() => {}
            _ => self.kernel = None,
        }
    }

    /// Answers `req` with `status` and encoded `results`; blocks until the monitor says
    /// whether the reply was delivered (Ok) or refused (Err with its code).
    pub fn reply(&mut self, req: &Request, status: u32, results: &[u8]) -> Result<(), u32> {
        let mut h = Header::new(Kind::Reply, req.header.riid, req.header.mid, "");
        h.tag = req.header.tag;
        h.status = status;
        self.reply_raw(req.end, &wire::encode(&h, results))
    }

    /// Sends arbitrary bytes as a reply on end `end` and waits for the acknowledgement.
    pub fn reply_raw(&mut self, end: usize, msg: &[u8]) -> Result<(), u32> {
        let fd = match self.ends.get(end).and_then(Option::as_ref) {
            Some(e) => e.fd.try_clone().map_err(|_| codes::EGONE)?,
            None => return Err(codes::EGONE),
        };
        send(fd.as_fd(), msg)?;
        if self.direct {
            return Ok(());
        }
        let deadline = Instant::now() + ACK_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ready = wait_any(&[fd.as_fd()], Some(left)).map_err(|_| codes::EGONE)?;
            if !ready[0] {
                return Err(codes::ETIMEOUT);
            }
            let m = recv_msg(fd.as_fd()).map_err(|_| codes::EGONE)?;
            if m.is_empty() {
                self.ends[end] = None;
                return Err(codes::EGONE);
            }
            match wire::peek(&m) {
                Some(h) if h.kind == Kind::Ack => {
                    return if h.status == codes::OK {
                        Ok(())
                    } else {
                        Err(h.status)
                    };
                }
                Some(h) if h.kind == Kind::Request => {
                    let channel = self.ends[end]
                        .as_ref()
                        .map(|e| e.name.clone())
                        .unwrap_or_default();
                    self.queue.push_back(Request {
                        end,
                        channel,
                        header: h,
                        payload: m[HEADER_LEN..].to_vec(),
                    });
                }
                _ => continue,
            }
        }
    }
}
