//! The monitor's engine, playing the kernel's part: it starts the solution's programs, owns
//! both ends of every channel, reads every message, asks a [`Mediator`] (the check module)
//! for a verdict, records the verdict in the audit log through the mediator, and delivers or
//! refuses.
//!
//! Each static channel is two SOCK_SEQPACKET socketpairs: client end <-> monitor and
//! monitor <-> server end. A program inherits only its own ends (every other descriptor is
//! close-on-exec), so the monitor KNOWS which program sent a message: the one it gave that end
//! to. The engine is single-threaded and blocks in poll(2) between messages.
//!
//! This module must never decide what is allowed (that is the mediator's job) and must never
//! deliver a message the mediator refused.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::FdFlags;
use rustix::net::{AddressFamily, SendFlags, SocketFlags, SocketType};
use rustix::process::{Pid, PidfdFlags, Signal};

use super::channel::recv_msg;
use super::codes;
use super::idl::Idl;
use super::policy::{Direction, Policy};
use super::solution::Solution;
use super::wire::{self, Header, Kind};

/// A decision: `code` 0 allows, anything else refuses with that code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// codes::OK or the refusal code.
    pub code: u32,
    /// Why, in a few words (goes to the audit log).
    pub reason: String,
}

impl Verdict {
    /// Allow, saying why.
    pub fn allow(reason: impl Into<String>) -> Verdict {
        Verdict {
            code: codes::OK,
            reason: reason.into(),
        }
    }
    /// Refuse with `code`, saying why.
    pub fn deny(code: u32, reason: impl Into<String>) -> Verdict {
        Verdict {
            code,
            reason: reason.into(),
        }
    }
    /// Whether the message may be delivered.
    pub fn is_allowed(&self) -> bool {
        self.code == codes::OK
    }
}

/// What the mediator may consult.
#[derive(Debug)]
pub struct Context {
    /// The interface description.
    pub idl: Idl,
    /// The policy.
    pub policy: Policy,
}

/// One side of a channel, as the monitor set it up.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    /// The program holding that end (its name in the solution).
    pub program: &'a str,
    /// The channel's name.
    pub channel: &'a str,
}

/// A call the monitor delivered and whose reply it awaits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCall {
    /// Endpoint called.
    pub riid: u32,
    /// Method called.
    pub mid: u32,
    /// The tag the monitor gave the request.
    pub tag: u32,
}

/// A decision to record.
#[derive(Debug)]
pub struct Event<'a> {
    /// Request (Call) or reply (Reply).
    pub dir: Direction,
    /// Sender program.
    pub from: &'a str,
    /// Receiver program.
    pub to: &'a str,
    /// Channel.
    pub channel: &'a str,
    /// The message as received.
    pub msg: &'a [u8],
    /// The decision taken (after the engine's own safety net).
    pub verdict: &'a Verdict,
}

/// The audit log file. Lines are buffered and written out by the engine before it next
/// waits for a message (and at the end), so recording stays off the path of a call.
#[derive(Debug)]
pub struct AuditLog {
    file: std::io::BufWriter<File>,
}

impl AuditLog {
    /// Appends one JSON value as a line.
    pub fn write_line(&mut self, v: &serde_json::Value) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.file, v).map_err(std::io::Error::other)?;
        self.file.write_all(b"\n")
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The check module: what a monitor decides and how it records it.
pub trait Mediator {
    /// A request `msg` from `from` (client end) to `to` (server end).
    fn check_request(&self, ctx: &Context, from: &Peer<'_>, to: &Peer<'_>, msg: &[u8]) -> Verdict;
    /// A reply `msg` from `from` (the server) to `to` (the client); `call` is the pending call
    /// on this channel whose tag the reply's header names, if any.
    fn check_reply(
        &self,
        ctx: &Context,
        from: &Peer<'_>,
        to: &Peer<'_>,
        call: Option<&PendingCall>,
        msg: &[u8],
    ) -> Verdict;
    /// Records one decision (one JSON line per decision).
    fn audit(&self, log: &mut AuditLog, event: &Event<'_>);
    /// A well-formed request from `from` for a dynamic channel to the program `server`
    /// (the engine has checked its structure). Default: allowed by a `connect` rule.
    fn check_connect(&self, ctx: &Context, from: &str, server: &str) -> Verdict {
        match ctx.policy.connects.iter().find(|r| r.allows(from, server)) {
            Some(r) => Verdict::allow(format!("policy line {}", r.line)),
            None => Verdict::deny(
                codes::EDENIED,
                format!("no rule lets {from} connect to {server}"),
            ),
        }
    }
}

/// Why the monitor could not run.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// Bad solution file.
    #[error(transparent)]
    Solution(#[from] super::solution::SolutionError),
    /// Bad IDL.
    #[error(transparent)]
    Idl(#[from] super::idl::IdlError),
    /// Bad policy.
    #[error(transparent)]
    Policy(#[from] super::policy::PolicyError),
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The solution cannot be run as asked.
    #[error("{0}")]
    Refused(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> KernelError {
    let what = what.into();
    move |source| KernelError::Io { what, source }
}

struct Chan {
    name: String,
    client: usize,
    server: usize,
    cli: Option<OwnedFd>,
    srv: Option<OwnedFd>,
    pending: HashMap<u32, PendingCall>,
}

struct Proc {
    name: String,
    daemon: bool,
    child: Child,
    pidfd: Option<OwnedFd>,
    /// The monitor's side of this program's channel to the monitor itself.
    kernel: Option<OwnedFd>,
}

fn pair() -> Result<(OwnedFd, OwnedFd), KernelError> {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| KernelError::Io {
        what: "socketpair".into(),
        source: e.into(),
    })
}

fn send(fd: &OwnedFd, msg: &[u8]) -> bool {
    matches!(rustix::net::send(fd, msg, SendFlags::NOSIGNAL), Ok(n) if n == msg.len())
}

fn notice(kind: Kind, about: Option<&Header>, code: u32) -> Vec<u8> {
    let mut h = Header::new(kind, 0, 0, "monitor");
    if let Some(a) = about {
        h.riid = a.riid;
        h.mid = a.mid;
        h.tag = a.tag;
    }
    h.status = code;
    wire::encode(&h, &[])
}

/// The running monitor.
struct Engine<'m> {
    ctx: Context,
    mediator: &'m dyn Mediator,
    audit: AuditLog,
    chans: Vec<Chan>,
    procs: Vec<Proc>,
    next_tag: u32,
}

fn start(sol: &Solution, chans: &mut [Chan]) -> Result<Vec<Proc>, KernelError> {
    // The program-side ends, created now and handed to their programs one by one.
    let mut mine: Vec<Vec<(String, &'static str, OwnedFd)>> =
        sol.programs.iter().map(|_| Vec::new()).collect();
    for c in chans.iter_mut() {
        let (cli_prog, cli_mon) = pair()?;
        let (srv_prog, srv_mon) = pair()?;
        c.cli = Some(cli_mon);
        c.srv = Some(srv_mon);
        mine[c.client].push((c.name.clone(), "client", cli_prog));
        mine[c.server].push((c.name.clone(), "server", srv_prog));
    }
    // Every program also gets a channel to the monitor itself (dynamic channels, 1.3).
    let mut kernels = Vec::new();
    for list in mine.iter_mut() {
        let (prog, mon) = pair()?;
        list.push(("kernel".to_owned(), "kernel", prog));
        kernels.push(mon);
    }
    let idl_path = sol.resolve(&sol.idl);
    let idl_path = std::fs::canonicalize(&idl_path).unwrap_or(idl_path);
    let root = rustix::process::geteuid().is_root();
    let mut procs = Vec::new();
    for ((spec, ends), kernel) in sol.programs.iter().zip(mine).zip(kernels) {
        let mut cmd = Command::new(&spec.command[0]);
        cmd.args(&spec.command[1..]).stdin(Stdio::null());
        let list: Vec<String> = ends
            .iter()
            .map(|(n, side, fd)| format!("{n}={side}:{}", fd.as_raw_fd()))
            .collect();
        cmd.env("IPCMON_NAME", &spec.name)
            .env("IPCMON_CHANNELS", list.join(","))
            .env("IPCMON_IDL", &idl_path)
            .env_remove("IPCMON_DIRECT");
        if let Some(out) = &spec.stdout {
            let f = File::create(sol.resolve(out)).map_err(io(format!("create {out}")))?;
            cmd.stdout(f);
        }
        if spec.uid.is_some() || spec.gid.is_some() {
            if !root {
                return Err(KernelError::Refused(format!(
                    "program `{}` asks for a uid/gid but the monitor is not root: remove them",
                    spec.name
                )));
            }
            use std::os::unix::process::CommandExt;
            if let Some(g) = spec.gid {
                cmd.gid(g);
            }
            if let Some(u) = spec.uid {
                cmd.uid(u);
            }
        }
        // Only this program's ends survive its exec; we are single-threaded, so no other
        // spawn can see them while they are inheritable.
        for (_, _, fd) in &ends {
            rustix::io::fcntl_setfd(fd, FdFlags::empty()).map_err(|e| KernelError::Io {
                what: "fcntl".into(),
                source: e.into(),
            })?;
        }
        let child = cmd
            .spawn()
            .map_err(io(format!("start `{}` ({})", spec.name, spec.command[0])))?;
        drop(ends);
        let pidfd = rustix::process::pidfd_open(Pid::from_child(&child), PidfdFlags::empty())
            .map_err(|e| KernelError::Io {
                what: "pidfd_open".into(),
                source: e.into(),
            })?;
        procs.push(Proc {
            name: spec.name.clone(),
            daemon: spec.daemon,
            child,
            pidfd: Some(pidfd),
            kernel: Some(kernel),
        });
    }
    Ok(procs)
}

impl Engine<'_> {
    fn decide_request(&mut self, c: usize, mut msg: Vec<u8>) {
        let ch = &self.chans[c];
        let (from, to) = (&self.procs[ch.client].name, &self.procs[ch.server].name);
        let fp = Peer {
            program: from,
            channel: &ch.name,
        };
        let tp = Peer {
            program: to,
            channel: &ch.name,
        };
        let mut verdict = self.mediator.check_request(&self.ctx, &fp, &tp, &msg);
        let header = wire::peek(&msg);
        if verdict.is_allowed() && header.as_ref().is_none_or(|h| h.kind != Kind::Request) {
            verdict = Verdict::deny(
                codes::EBADHEADER,
                "engine: allowed a request it cannot route",
            );
        }
        let ev = Event {
            dir: Direction::Call,
            from,
            to,
            channel: &ch.name,
            msg: &msg,
            verdict: &verdict,
        };
        self.mediator.audit(&mut self.audit, &ev);
        let ch = &mut self.chans[c];
        let Some(cli) = ch.cli.as_ref() else { return };
        if !verdict.is_allowed() {
            send(cli, &notice(Kind::Error, header.as_ref(), verdict.code));
            return;
        }
        let Some(h) = header else { return };
        self.next_tag = self.next_tag.wrapping_add(1).max(1);
        let tag = self.next_tag;
        wire::set_tag(&mut msg, tag);
        let delivered = ch.srv.as_ref().is_some_and(|s| send(s, &msg));
        if delivered {
            ch.pending.insert(
                tag,
                PendingCall {
                    riid: h.riid,
                    mid: h.mid,
                    tag,
                },
            );
        } else {
            send(cli, &notice(Kind::Error, Some(&h), codes::EGONE));
        }
    }

    fn decide_reply(&mut self, c: usize, msg: Vec<u8>) {
        let ch = &self.chans[c];
        let (from, to) = (&self.procs[ch.server].name, &self.procs[ch.client].name);
        let fp = Peer {
            program: from,
            channel: &ch.name,
        };
        let tp = Peer {
            program: to,
            channel: &ch.name,
        };
        let header = wire::peek(&msg);
        let call = header
            .as_ref()
            .and_then(|h| ch.pending.get(&h.tag))
            .cloned();
        let mut verdict = self
            .mediator
            .check_reply(&self.ctx, &fp, &tp, call.as_ref(), &msg);
        if verdict.is_allowed() {
            if header.as_ref().is_none_or(|h| h.kind != Kind::Reply) {
                verdict =
                    Verdict::deny(codes::EBADHEADER, "engine: allowed a reply it cannot route");
            } else if call.is_none() {
                verdict = Verdict::deny(codes::ENOCALL, "engine: allowed a reply to no call");
            }
        }
        let ev = Event {
            dir: Direction::Reply,
            from,
            to,
            channel: &ch.name,
            msg: &msg,
            verdict: &verdict,
        };
        self.mediator.audit(&mut self.audit, &ev);
        let ch = &mut self.chans[c];
        let Some(srv) = ch.srv.as_ref() else { return };
        let Some(call) = call else {
            send(srv, &notice(Kind::Ack, header.as_ref(), verdict.code));
            return;
        };
        ch.pending.remove(&call.tag);
        let about = Header {
            tag: call.tag,
            riid: call.riid,
            mid: call.mid,
            ..Header::new(Kind::Error, 0, 0, "")
        };
        if !verdict.is_allowed() {
            send(srv, &notice(Kind::Ack, Some(&about), verdict.code));
            if let Some(cli) = ch.cli.as_ref() {
                send(cli, &notice(Kind::Error, Some(&about), codes::EWITHHELD));
            }
            return;
        }
        let delivered = ch.cli.as_ref().is_some_and(|cli| send(cli, &msg));
        let code = if delivered { codes::OK } else { codes::EGONE };
        send(srv, &notice(Kind::Ack, Some(&about), code));
    }

    /// The structure of a Connect request: (server, channel) or the refusal.
    fn parse_connect(&self, msg: &[u8]) -> Result<(String, String), Verdict> {
        use super::channel::{KERNEL_CONNECT, KERNEL_RIID, connect_fields};
        use super::idl::Value;
        let (h, payload) = wire::split(msg).map_err(|e| Verdict::deny(e.code(), e.to_string()))?;
        if h.kind != Kind::Request {
            return Err(Verdict::deny(
                codes::EBADHEADER,
                "only requests go to the monitor",
            ));
        }
        if h.riid != KERNEL_RIID {
            return Err(Verdict::deny(
                codes::ENOENDPOINT,
                "the kernel end serves riid 0 only",
            ));
        }
        if h.mid != KERNEL_CONNECT {
            return Err(Verdict::deny(
                codes::ENOMETHOD,
                "the kernel endpoint has method 1 only",
            ));
        }
        let v = super::idl::decode(&connect_fields(), payload)
            .map_err(|e| Verdict::deny(e.code(), format!("Connect: {e}")))?;
        let text = |i: usize| match v.get(i) {
            Some((_, Value::Str(s))) => s.clone(),
            _ => String::new(),
        };
        let (server, channel) = (text(0), text(1));
        if !self.procs.iter().any(|p| p.name == server) {
            return Err(Verdict::deny(
                codes::ENOENDPOINT,
                format!("no program `{server}`"),
            ));
        }
        let ok_name = !channel.is_empty()
            && channel
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok_name || self.chans.iter().any(|c| c.name == channel) {
            return Err(Verdict::deny(
                codes::EBADFIELD,
                format!("channel name `{channel}` is taken or not [A-Za-z0-9_-]+"),
            ));
        }
        Ok((server, channel))
    }

    /// A request on program `p`'s kernel end: a dynamic channel, checked like any message.
    fn decide_connect(&mut self, p: usize, msg: &[u8]) {
        use super::channel::{KERNEL_CONNECT, KERNEL_NEW_CHANNEL, KERNEL_RIID, new_channel_fields};
        let from = self.procs[p].name.clone();
        let parsed = self.parse_connect(msg);
        let verdict = match &parsed {
            Ok((server, _)) if *server == from => {
                Verdict::deny(codes::EDENIED, "a program cannot connect to itself")
            }
            Ok((server, _)) => self.mediator.check_connect(&self.ctx, &from, server),
            Err(v) => v.clone(),
        };
        let (to, channel) = match &parsed {
            Ok((s, c)) => (s.clone(), c.clone()),
            Err(_) => (String::new(), String::new()),
        };
        let ev = Event {
            dir: Direction::Call,
            from: &from,
            to: &to,
            channel: &channel,
            msg,
            verdict: &verdict,
        };
        self.mediator.audit(&mut self.audit, &ev);
        let refuse = |engine: &Self, code: u32| {
            if let Some(k) = engine.procs[p].kernel.as_ref() {
                let h = Header::new(Kind::Request, KERNEL_RIID, KERNEL_CONNECT, "");
                send(k, &notice(Kind::Error, Some(&h), code));
            }
        };
        let (Ok((server, channel)), true) = (parsed, verdict.is_allowed()) else {
            refuse(self, verdict.code);
            return;
        };
        let Some(s) = self.procs.iter().position(|q| q.name == server) else {
            refuse(self, codes::ENOENDPOINT);
            return;
        };
        let (Ok((cli_prog, cli_mon)), Ok((srv_prog, srv_mon))) = (pair(), pair()) else {
            refuse(self, codes::EGONE);
            return;
        };
        let Ok(args) = super::idl::encode(
            &new_channel_fields(),
            &[super::idl::Value::Str(channel.clone())],
        ) else {
            refuse(self, codes::EBADFIELD);
            return;
        };
        let note = wire::encode(
            &Header::new(Kind::Request, KERNEL_RIID, KERNEL_NEW_CHANNEL, "monitor"),
            &args,
        );
        let told = self.procs[s]
            .kernel
            .as_ref()
            .is_some_and(|k| super::channel::send_with_fd(k.as_fd(), &note, srv_prog.as_fd()));
        if !told {
            refuse(self, codes::EGONE);
            return;
        }
        self.chans.push(Chan {
            name: channel,
            client: p,
            server: s,
            cli: Some(cli_mon),
            srv: Some(srv_mon),
            pending: HashMap::new(),
        });
        let mut h = Header::new(Kind::Reply, KERNEL_RIID, KERNEL_CONNECT, "monitor");
        h.status = codes::OK;
        let answer = wire::encode(&h, &[]);
        if let Some(k) = self.procs[p].kernel.as_ref() {
            super::channel::send_with_fd(k.as_fd(), &answer, cli_prog.as_fd());
        }
    }

    fn server_gone(&mut self, c: usize) {
        let ch = &mut self.chans[c];
        ch.srv = None;
        for (_, call) in ch.pending.drain() {
            if let Some(cli) = ch.cli.as_ref() {
                let about = Header {
                    tag: call.tag,
                    riid: call.riid,
                    mid: call.mid,
                    ..Header::new(Kind::Error, 0, 0, "")
                };
                send(cli, &notice(Kind::Error, Some(&about), codes::EGONE));
            }
        }
    }

    fn clients_done(&self) -> bool {
        let mut any = false;
        for p in &self.procs {
            if !p.daemon {
                any = true;
                if p.pidfd.is_some() {
                    return false;
                }
            }
        }
        any || self.procs.iter().all(|p| p.pidfd.is_none())
    }

    /// One round: wait for anything, handle it. Returns false when the solution is done.
    fn step(&mut self) -> Result<bool, KernelError> {
        // Which descriptor is which: (channel, is_server_side) or a process.
        enum Src {
            Cli(usize),
            Srv(usize),
            Kernel(usize),
            Proc(usize),
        }
        let mut srcs = Vec::new();
        let mut fds = Vec::new();
        for (i, ch) in self.chans.iter().enumerate() {
            if let Some(f) = ch.cli.as_ref() {
                srcs.push(Src::Cli(i));
                fds.push(PollFd::new(f, PollFlags::IN));
            }
            if let Some(f) = ch.srv.as_ref() {
                srcs.push(Src::Srv(i));
                fds.push(PollFd::new(f, PollFlags::IN));
            }
        }
        for (i, p) in self.procs.iter().enumerate() {
            if let Some(f) = p.kernel.as_ref() {
                srcs.push(Src::Kernel(i));
                fds.push(PollFd::new(f, PollFlags::IN));
            }
        }
        for (i, p) in self.procs.iter().enumerate() {
            if let Some(f) = p.pidfd.as_ref() {
                srcs.push(Src::Proc(i));
                fds.push(PollFd::new(f, PollFlags::IN));
            }
        }
        if let Err(e) = self.audit.flush() {
            eprintln!("monitor: cannot write the audit log: {e}");
        }
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Ok(true),
            Err(e) => {
                return Err(KernelError::Io {
                    what: "poll".into(),
                    source: e.into(),
                });
            }
        }
        let ready: Vec<bool> = fds.iter().map(|p| !p.revents().is_empty()).collect();
        drop(fds);
        // Messages first, exits last, so a program's last words are handled before its end.
        for (k, src) in srcs.iter().enumerate() {
            if !ready[k] {
                continue;
            }
            match *src {
                Src::Cli(c) => {
                    let Some(f) = self.chans[c].cli.as_ref() else {
                        continue;
                    };
                    match recv_msg(f.as_fd()) {
                        Ok(m) if !m.is_empty() => self.decide_request(c, m),
                        _ => self.chans[c].cli = None,
                    }
                }
                Src::Srv(c) => {
                    let Some(f) = self.chans[c].srv.as_ref() else {
                        continue;
                    };
                    match recv_msg(f.as_fd()) {
                        Ok(m) if !m.is_empty() => self.decide_reply(c, m),
                        _ => self.server_gone(c),
                    }
                }
                Src::Kernel(i) => {
                    let Some(f) = self.procs[i].kernel.as_ref() else {
                        continue;
                    };
                    match recv_msg(f.as_fd()) {
                        Ok(m) if !m.is_empty() => self.decide_connect(i, &m),
                        _ => self.procs[i].kernel = None,
                    }
                }
                Src::Proc(_) => {}
            }
        }
        for (k, src) in srcs.iter().enumerate() {
            if let (true, Src::Proc(i)) = (ready[k], src) {
                let p = &mut self.procs[*i];
                if let Ok(Some(st)) = p.child.try_wait() {
                    eprintln!("monitor: {} ended ({st})", p.name);
                    p.pidfd = None;
                }
            }
        }
        Ok(!self.clients_done())
    }

    /// Ends the solution: closes every channel (so a server's recv returns EGONE once it
    /// has handled what it already holds, and it can exit by itself), waits up to 2 s for the
    /// remaining programs, then SIGTERM, up to 1 s more, then SIGKILL.
    fn stop_daemons(&mut self) {
        for ch in &mut self.chans {
            ch.cli = None;
            ch.srv = None;
        }
        for p in &mut self.procs {
            p.kernel = None;
        }
        self.wait_all(Duration::from_secs(2));
        for p in self.procs.iter().filter(|p| p.pidfd.is_some()) {
            if let Some(fd) = p.pidfd.as_ref() {
                let _ = rustix::process::pidfd_send_signal(fd, Signal::TERM);
            }
        }
        self.wait_all(Duration::from_secs(1));
        for p in self.procs.iter_mut() {
            if let Some(fd) = p.pidfd.take() {
                let _ = rustix::process::pidfd_send_signal(&fd, Signal::KILL);
                let _ = p.child.wait();
            }
        }
    }

    /// Reaps every program that ends within `limit`.
    fn wait_all(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        for p in self.procs.iter_mut() {
            let Some(fd) = p.pidfd.as_ref() else { continue };
            let left = deadline.saturating_duration_since(Instant::now());
            let ts = Timespec {
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(0),
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut pfd = [PollFd::new(fd, PollFlags::IN)];
            if matches!(rustix::event::poll(&mut pfd, Some(&ts)), Ok(n) if n > 0) {
                let _ = p.child.wait();
                p.pidfd = None;
            }
        }
    }
}

/// Runs the solution in `path` under `mediator` until its non-daemon programs have ended.
pub fn run(path: &Path, mediator: &dyn Mediator) -> Result<(), KernelError> {
    let sol = Solution::load(path)?;
    let idl = Idl::load(&sol.resolve(&sol.idl))?;
    let policy = Policy::load(&sol.resolve(&sol.policy), &idl)?;
    let audit_path = sol.resolve(&sol.audit);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&audit_path)
        .map_err(io(format!("open audit log {}", audit_path.display())))?;
    let index = |n: &str| sol.programs.iter().position(|p| p.name == n).unwrap_or(0);
    let mut chans: Vec<Chan> = sol
        .channels
        .iter()
        .map(|c| Chan {
            name: c.name.clone(),
            client: index(&c.client),
            server: index(&c.server),
            cli: None,
            srv: None,
            pending: HashMap::new(),
        })
        .collect();
    // Said before the programs start, so it comes before anything they print.
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    println!(
        "monitor: starting {}, {}",
        plural(sol.programs.len(), "program"),
        plural(chans.len(), "channel")
    );
    let _ = std::io::stdout().flush();
    let procs = start(&sol, &mut chans)?;
    let mut engine = Engine {
        ctx: Context { idl, policy },
        mediator,
        audit: AuditLog {
            file: std::io::BufWriter::new(file),
        },
        chans,
        procs,
        next_tag: 0,
    };
    let result = loop {
        match engine.step() {
            Ok(true) => continue,
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    engine.stop_daemons();
    if let Err(e) = engine.audit.flush() {
        eprintln!("monitor: cannot write the audit log: {e}");
    }
    println!("monitor: done");
    result
}

/// The whole `monitor SOLUTION.json` program: exit 0 when the solution ran to its end, 2 when
/// it could not start (the message says what to fix).
pub fn main(mediator: &dyn Mediator) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!("usage: monitor SOLUTION.json   (a solution description: see the handout, 1.3)");
        return ExitCode::from(2);
    };
    match run(Path::new(path), mediator) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("monitor: {e}");
            ExitCode::from(2)
        }
    }
}
