//! One scenario step as written (`RawStep`: every key any step may have) and as validated
//! (`Step`): exactly one action key, the keys that go with it, names that refer to processes
//! started earlier, placeholders the run can fill. Nothing here runs anything.

use std::collections::BTreeMap;
use std::time::Duration;

use lab::KindCx;
use nix::sys::signal::Signal;
use serde::Deserialize;
use toml::Spanned;

type S<T> = Spanned<T>;

/// `exit = true` (wait until it ended) or `exit = 3` (expect that status).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ExitKey {
    Ended(bool),
    Status(i64),
}

/// One text or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Texts {
    One(String),
    Many(Vec<String>),
}

impl Texts {
    fn into_vec(self) -> Vec<String> {
        match self {
            Texts::One(t) => vec![t],
            Texts::Many(v) => v,
        }
    }
}

/// Every key a step may have; `validate` checks that they fit its action.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    // The action: exactly one of these.
    start: Option<S<String>>,
    wait: Option<S<String>>,
    write: Option<S<String>>,
    close: Option<S<String>>,
    signal: Option<S<String>>,
    connect: Option<S<String>>,
    expect: Option<S<String>>,
    log: Option<S<String>>,
    proc: Option<S<String>>,
    stop: Option<S<String>>,
    // start
    program: Option<S<String>>,
    command: Option<S<Vec<String>>>,
    args: Option<S<Vec<String>>>,
    #[serde(rename = "as")]
    role: Option<S<String>>,
    stdin: Option<S<String>>,
    stdin_pipe: Option<S<bool>>,
    env: Option<S<BTreeMap<String, String>>>,
    copies: Option<S<i64>>,
    /// start: give the program a ready descriptor; wait: until it writes a byte on it.
    ready_fd: Option<S<bool>>,
    // wait
    stdout_line: Option<S<String>>,
    stderr_line: Option<S<String>>,
    handlers: Option<S<Vec<String>>>,
    listening: Option<S<String>>,
    path: Option<S<String>>,
    exit: Option<S<ExitKey>>,
    threads: Option<S<i64>>,
    timeout: Option<S<String>>,
    // write, connect
    text: Option<S<String>>,
    send: Option<S<String>>,
    expect_reply: Option<S<String>>,
    reply_contains: Option<S<String>>,
    // expect
    signaled: Option<S<String>>,
    stdout: Option<S<String>>,
    stdout_contains: Option<S<Texts>>,
    stdout_matches: Option<S<String>>,
    stdout_starts_with: Option<S<String>>,
    stderr_contains: Option<S<Texts>>,
    forbid: Option<S<Vec<String>>>,
    // log
    contains: Option<S<Vec<toml::Table>>>,
    in_order: Option<S<bool>>,
    count: Option<S<i64>>,
    // proc
    alive: Option<S<bool>>,
    max_cpu_share: Option<S<f64>>,
    window: Option<S<String>>,
    // any step
    hint: Option<S<String>>,
}

/// A validated step.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based, as failures name it.
    pub number: usize,
    pub action: Action,
    /// Shown instead of the check's hint when this step fails.
    pub hint: Option<String>,
    /// This step's own wait bound (waits, connects, expects).
    pub timeout: Option<Duration>,
}

/// What a process reads on stdin.
#[derive(Debug, Clone)]
pub enum StdinPlan {
    Null,
    Text(String),
    Pipe,
}

#[derive(Debug, Clone)]
pub struct Start {
    pub name: String,
    /// A `[programs]` entry, or None when `command` is given.
    pub program: Option<String>,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub role: String,
    pub stdin: StdinPlan,
    pub env: Vec<(String, String)>,
    pub copies: usize,
    /// Each copy gets a ready descriptor (see `sandbox::Spec::ready_fd`).
    pub ready_fd: bool,
    /// Its own deadline from start (default: the check's timeout).
    pub deadline: Option<Duration>,
}

#[derive(Debug, Clone)]
pub enum WaitOn {
    StdoutLine(String),
    StderrLine(String),
    Handlers(Vec<Signal>),
    Listening(String),
    Path(String),
    Exit,
    Threads(u32),
    /// A byte on the ready descriptor the start step gave it.
    ReadyFd,
}

#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub exit: Option<i32>,
    pub signaled: Option<Signal>,
    pub stdout: Option<String>,
    pub stdout_contains: Vec<String>,
    pub stdout_matches: Option<String>,
    pub stdout_starts_with: Option<String>,
    pub stderr_contains: Vec<String>,
    pub forbid: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Log {
    pub path: String,
    pub contains: Vec<serde_json::Value>,
    pub in_order: bool,
    pub count: Option<usize>,
    pub forbid: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ProcFacts {
    pub threads: Option<u32>,
    pub alive: Option<bool>,
    pub max_cpu_share: Option<f64>,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub enum Action {
    Start(Start),
    Wait {
        name: String,
        on: WaitOn,
    },
    Write {
        name: String,
        text: String,
    },
    Close {
        name: String,
    },
    Signal {
        name: String,
        signal: Signal,
    },
    Connect {
        path: String,
        send: String,
        expect_reply: Option<String>,
        reply_contains: Option<String>,
    },
    Expect {
        name: String,
        facts: Expect,
    },
    Log(Log),
    Proc {
        name: String,
        facts: ProcFacts,
    },
    Stop {
        name: String,
    },
}

impl Action {
    /// How a failure names the step, e.g. `wait server`.
    pub fn label(&self) -> String {
        match self {
            Action::Start(s) => format!("start {}", s.name),
            Action::Wait { name, .. } => format!("wait {name}"),
            Action::Write { name, .. } => format!("write {name}"),
            Action::Close { name } => format!("close {name}"),
            Action::Signal { name, signal } => format!("signal {name} {}", signal.as_str()),
            Action::Connect { path, .. } => format!("connect {path}"),
            Action::Expect { name, .. } => format!("expect {name}"),
            Action::Log(log) => format!("log {}", log.path),
            Action::Proc { name, .. } => format!("proc {name}"),
            Action::Stop { name } => format!("stop {name}"),
        }
    }
}

/// The placeholders every scenario string may use besides the fixtures.
const PLACEHOLDERS: &[&str] = &[
    "run", "tools", "build", "target", "seed", "random", "i", "pid", "uid", "gid",
];

/// Checks the `{name}`s of a text: fixtures, [`PLACEHOLDERS`], `pid:NAME` of a process started
/// before, `uid:ROLE`/`gid:ROLE` of a declared role. A regex's `{2}` or `{1,3}` is no placeholder.
fn placeholders(cx: &mut KindCx<'_, '_>, text: &S<String>, started: &[String]) {
    for name in lab::placeholders(text.get_ref()) {
        if name.is_empty() || name.chars().all(|c| c.is_ascii_digit() || c == ',') {
            continue;
        }
        let known = cx.fixture_ids.contains(name)
            || PLACEHOLDERS.contains(&name)
            || name
                .strip_prefix("pid:")
                .is_some_and(|p| started.iter().any(|s| s == p))
            || name
                .strip_prefix("uid:")
                .or_else(|| name.strip_prefix("gid:"))
                .is_some_and(|r| cx.roles.iter().any(|role| role == r));
        if !known {
            cx.at(
                text.span(),
                format!("unknown placeholder `{{{name}}}`"),
                "use a fixture id, {run}, {tools}, {build}, {target}, {seed}, {random}, {i}, {pid:NAME} of a process started before, or {uid:ROLE}/{gid:ROLE}",
            );
        }
    }
}

fn text(cx: &mut KindCx<'_, '_>, v: &Option<S<String>>, started: &[String]) -> Option<String> {
    v.as_ref().map(|t| {
        placeholders(cx, t, started);
        t.get_ref().clone()
    })
}

fn texts(cx: &mut KindCx<'_, '_>, v: Option<S<Texts>>, started: &[String]) -> Vec<String> {
    let Some(v) = v else { return Vec::new() };
    let span = v.span();
    let list = v.into_inner().into_vec();
    for t in &list {
        placeholders(cx, &Spanned::new(span.clone(), t.clone()), started);
    }
    list
}

fn regex(cx: &mut KindCx<'_, '_>, v: &S<String>, started: &[String]) -> String {
    placeholders(cx, v, started);
    // Placeholders are filled in at run time; a text without any must be a valid regex now.
    if lab::placeholders(v.get_ref())
        .iter()
        .all(|n| n.chars().all(|c| c.is_ascii_digit() || c == ','))
        && let Err(e) = regex::Regex::new(v.get_ref())
    {
        cx.at(
            v.span(),
            format!("`{}` is not a valid regular expression: {e}", v.get_ref()),
            "write a regex such as \"^server ready\" (see the regex crate's syntax)",
        );
    }
    v.get_ref().clone()
}

fn duration(cx: &mut KindCx<'_, '_>, v: &Option<S<String>>) -> Option<Duration> {
    v.as_ref().and_then(|d| cx.duration(d))
}

/// The names of the action keys a step has.
fn actions(r: &RawStep) -> Vec<(&'static str, &S<String>)> {
    let mut out = Vec::new();
    for (key, value) in [
        ("start", &r.start),
        ("wait", &r.wait),
        ("write", &r.write),
        ("close", &r.close),
        ("signal", &r.signal),
        ("connect", &r.connect),
        ("expect", &r.expect),
        ("log", &r.log),
        ("proc", &r.proc),
        ("stop", &r.stop),
    ] {
        if let Some(v) = value {
            out.push((key, v));
        }
    }
    out
}

/// The keys a step has (one list, next to the struct it mirrors).
fn present(r: &RawStep) -> Vec<&'static str> {
    macro_rules! present {
        ($($field:ident => $key:literal),* $(,)?) => {{
            let mut keys = Vec::new();
            $( if r.$field.is_some() { keys.push($key); } )*
            keys
        }};
    }
    present!(
        program => "program", command => "command", args => "args", role => "as",
        stdin => "stdin", stdin_pipe => "stdin_pipe", env => "env", copies => "copies",
        ready_fd => "ready_fd",
        stdout_line => "stdout_line", stderr_line => "stderr_line", handlers => "handlers",
        listening => "listening", path => "path", exit => "exit", threads => "threads",
        timeout => "timeout", text => "text", send => "send", expect_reply => "expect_reply",
        reply_contains => "reply_contains", signaled => "signaled", stdout => "stdout",
        stdout_contains => "stdout_contains", stdout_matches => "stdout_matches",
        stdout_starts_with => "stdout_starts_with", stderr_contains => "stderr_contains",
        forbid => "forbid", contains => "contains", in_order => "in_order", count => "count",
        alive => "alive", max_cpu_share => "max_cpu_share", window => "window", hint => "hint",
    )
}

/// The keys that go with each action (besides the action key itself).
fn allowed(action: &str) -> &'static [&'static str] {
    match action {
        "start" => &[
            "program",
            "command",
            "args",
            "as",
            "stdin",
            "stdin_pipe",
            "env",
            "copies",
            "ready_fd",
            "timeout",
            "hint",
        ],
        "wait" => &[
            "ready_fd",
            "stdout_line",
            "stderr_line",
            "handlers",
            "listening",
            "path",
            "exit",
            "threads",
            "timeout",
            "hint",
        ],
        "write" => &["text", "hint"],
        "signal" => &["send", "hint"],
        "connect" => &["send", "expect_reply", "reply_contains", "timeout", "hint"],
        "expect" => &[
            "exit",
            "signaled",
            "stdout",
            "stdout_contains",
            "stdout_matches",
            "stdout_starts_with",
            "stderr_contains",
            "forbid",
            "timeout",
            "hint",
        ],
        "log" => &["contains", "in_order", "count", "forbid", "hint"],
        "proc" => &["threads", "alive", "max_cpu_share", "window", "hint"],
        _ => &["timeout", "hint"],
    }
}

/// Validates step `number`; `started` holds the process names started so far.
pub fn validate(
    number: usize,
    raw: S<RawStep>,
    started: &mut Vec<String>,
    cx: &mut KindCx<'_, '_>,
) -> Option<Step> {
    let span = raw.span();
    let r = raw.into_inner();
    let found = actions(&r);
    let (key, target) = match found.as_slice() {
        [one] => (one.0, one.1.clone()),
        [] => {
            cx.at(
                span,
                format!("step {number} has no action"),
                "give it exactly one of: start, wait, write, close, signal, connect, expect, log, proc, stop",
            );
            return None;
        }
        [_, second, ..] => {
            cx.at(
                second.1.span(),
                format!(
                    "step {number} has more than one action: {}",
                    found.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                ),
                "split it into one step per action",
            );
            return None;
        }
    };
    let allowed_keys = allowed(key);
    for extra in present(&r)
        .into_iter()
        .filter(|k| !allowed_keys.contains(k))
    {
        cx.at(
            target.span(),
            format!("step {number}: `{extra}` does not belong to a `{key}` step"),
            format!("a `{key}` step takes: {}", allowed_keys.join(", ")),
        );
    }
    let name = target.get_ref().clone();
    let known = |cx: &mut KindCx<'_, '_>, started: &[String]| {
        if !started.iter().any(|s| s == &name) {
            cx.at(
                target.span(),
                format!("step {number}: no process `{name}` was started before it"),
                "start it in an earlier step (`start = \"...\"`), or fix the name",
            );
        }
    };
    let timeout = duration(cx, &r.timeout);
    let hint = r.hint.as_ref().map(|h| h.get_ref().clone());
    let action = match key {
        "start" => {
            if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ':') {
                cx.at(
                    target.span(),
                    format!("process name `{name}` must be one word without `:`"),
                    "use a name such as \"server\"",
                );
            }
            if started.iter().any(|s| s == &name) {
                cx.at(
                    target.span(),
                    format!("process `{name}` is started twice"),
                    "give every process of a scenario its own name",
                );
            }
            let (program, command) = match (&r.program, &r.command) {
                (Some(p), None) => (Some(cx.program(p)), Vec::new()),
                (None, Some(c)) => {
                    if c.get_ref().is_empty() {
                        cx.at(
                            c.span(),
                            "the command is empty",
                            "give it as a list, e.g. [\"{tools}/shm-client\"]",
                        );
                    }
                    for part in c.get_ref() {
                        placeholders(cx, &Spanned::new(c.span(), part.clone()), started);
                    }
                    (None, c.get_ref().clone())
                }
                (Some(_), Some(c)) => {
                    cx.at(
                        c.span(),
                        "a start step has `program` or `command`, not both",
                        "keep one of them",
                    );
                    (None, c.get_ref().clone())
                }
                (None, None) if cx.programs.contains_key(&name) => (Some(name.clone()), Vec::new()),
                (None, None) => {
                    cx.at(
                        target.span(),
                        format!("step {number}: `{name}` is no [programs] entry and the step has no `program` or `command`"),
                        "add `program = \"...\"` (a [programs] entry) or `command = [...]`",
                    );
                    (None, Vec::new())
                }
            };
            let args = r.args.as_ref().map_or_else(Vec::new, |a| {
                for part in a.get_ref() {
                    placeholders(cx, &Spanned::new(a.span(), part.clone()), started);
                }
                a.get_ref().clone()
            });
            let role = match &r.role {
                Some(role) => cx.role(Some(role)),
                None => {
                    cx.at(
                        target.span(),
                        format!("step {number}: start `{name}` says nothing of whom it runs as"),
                        "add `as = \"...\"`, a role the lab declares",
                    );
                    String::new()
                }
            };
            let stdin = match (&r.stdin, r.stdin_pipe.as_ref().map(|p| *p.get_ref())) {
                (Some(t), Some(true)) => {
                    cx.at(
                        t.span(),
                        "a start step has `stdin` or `stdin_pipe`, not both",
                        "write the first bytes with a `write` step after it",
                    );
                    StdinPlan::Pipe
                }
                (Some(t), _) => {
                    placeholders(cx, t, started);
                    StdinPlan::Text(t.get_ref().clone())
                }
                (None, Some(true)) => StdinPlan::Pipe,
                (None, _) => StdinPlan::Null,
            };
            let env = r.env.as_ref().map_or_else(Vec::new, |e| {
                for value in e.get_ref().values() {
                    placeholders(cx, &Spanned::new(e.span(), value.clone()), started);
                }
                e.get_ref()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            });
            let copies = match &r.copies {
                None => 1,
                Some(c) => usize::try_from(*c.get_ref())
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .unwrap_or_else(|| {
                        cx.at(
                            c.span(),
                            format!("copies {} is out of range", c.get_ref()),
                            "start from 1 up to 64 copies",
                        );
                        1
                    }),
            };
            started.push(name.clone());
            Action::Start(Start {
                name,
                program,
                command,
                args,
                role,
                stdin,
                env,
                copies,
                ready_fd: r.ready_fd.as_ref().is_some_and(|v| *v.get_ref()),
                deadline: timeout,
            })
        }
        "wait" => {
            known(cx, started);
            let mut ons = Vec::new();
            if let Some(v) = &r.stdout_line {
                ons.push(WaitOn::StdoutLine(regex(cx, v, started)));
            }
            if let Some(v) = &r.stderr_line {
                ons.push(WaitOn::StderrLine(regex(cx, v, started)));
            }
            if let Some(v) = &r.handlers {
                let signals = v
                    .get_ref()
                    .iter()
                    .filter_map(|s| cx.signal(&Spanned::new(v.span(), s.clone())))
                    .collect();
                ons.push(WaitOn::Handlers(signals));
            }
            if let Some(p) = text(cx, &r.listening, started) {
                ons.push(WaitOn::Listening(p));
            }
            if let Some(p) = text(cx, &r.path, started) {
                ons.push(WaitOn::Path(p));
            }
            if let Some(e) = &r.exit {
                match e.get_ref() {
                    ExitKey::Ended(true) => ons.push(WaitOn::Exit),
                    _ => cx.at(
                        e.span(),
                        "in a wait step, `exit` is `true`",
                        "write `exit = true`; an exit status belongs in an `expect` step",
                    ),
                }
            }
            if let Some(v) = &r.ready_fd {
                if *v.get_ref() {
                    ons.push(WaitOn::ReadyFd);
                } else {
                    cx.at(
                        v.span(),
                        "in a wait step, `ready_fd` is `true`",
                        "write `ready_fd = true`, and `ready_fd = true` in the start step too",
                    );
                }
            }
            if let Some(t) = &r.threads {
                match u32::try_from(*t.get_ref()) {
                    Ok(n) if n >= 1 => ons.push(WaitOn::Threads(n)),
                    _ => cx.at(
                        t.span(),
                        "threads must be 1 or more",
                        "write e.g. `threads = 4`",
                    ),
                }
            }
            match ons.len() {
                1 => Action::Wait {
                    name,
                    on: ons.remove(0),
                },
                0 => {
                    cx.at(
                        target.span(),
                        format!("step {number}: wait for what?"),
                        "add one of: stdout_line, stderr_line, handlers, listening, path, exit = true, threads, ready_fd = true",
                    );
                    return None;
                }
                _ => {
                    cx.at(
                        target.span(),
                        format!("step {number} waits for more than one thing"),
                        "one wait step per event",
                    );
                    return None;
                }
            }
        }
        "write" => {
            known(cx, started);
            let Some(t) = text(cx, &r.text, started) else {
                cx.at(
                    target.span(),
                    format!("step {number}: write what?"),
                    "add `text = \"...\"`",
                );
                return None;
            };
            Action::Write { name, text: t }
        }
        "close" => {
            known(cx, started);
            Action::Close { name }
        }
        "signal" => {
            known(cx, started);
            let Some(sig) = r.send.as_ref().and_then(|s| cx.signal(s)) else {
                if r.send.is_none() {
                    cx.at(
                        target.span(),
                        format!("step {number}: which signal?"),
                        "add `send = \"SIGUSR1\"`",
                    );
                }
                return None;
            };
            Action::Signal { name, signal: sig }
        }
        "connect" => {
            placeholders(cx, &target, started);
            Action::Connect {
                path: name,
                send: text(cx, &r.send, started).unwrap_or_default(),
                expect_reply: text(cx, &r.expect_reply, started),
                reply_contains: text(cx, &r.reply_contains, started),
            }
        }
        "expect" => {
            known(cx, started);
            let exit = match &r.exit {
                None => None,
                Some(e) => match e.get_ref() {
                    ExitKey::Status(code) if (0..=255).contains(code) => Some(*code as i32),
                    _ => {
                        cx.at(
                            e.span(),
                            "in an expect step, `exit` is an exit status from 0 to 255",
                            "write e.g. `exit = 0`",
                        );
                        None
                    }
                },
            };
            let facts = Expect {
                exit,
                signaled: r.signaled.as_ref().and_then(|s| cx.signal(s)),
                stdout: text(cx, &r.stdout, started),
                stdout_contains: texts(cx, r.stdout_contains, started),
                stdout_matches: r.stdout_matches.as_ref().map(|v| regex(cx, v, started)),
                stdout_starts_with: text(cx, &r.stdout_starts_with, started),
                stderr_contains: texts(cx, r.stderr_contains, started),
                forbid: r.forbid.as_ref().map_or_else(Vec::new, |f| {
                    for t in f.get_ref() {
                        placeholders(cx, &Spanned::new(f.span(), t.clone()), started);
                    }
                    f.get_ref().clone()
                }),
            };
            Action::Expect { name, facts }
        }
        "log" => {
            placeholders(cx, &target, started);
            let contains = r.contains.as_ref().map_or_else(Vec::new, |c| {
                c.get_ref()
                    .iter()
                    .map(|t| serde_json::to_value(t).unwrap_or(serde_json::Value::Null))
                    .collect()
            });
            let count = r.count.as_ref().and_then(|c| {
                usize::try_from(*c.get_ref())
                    .map_err(|_| {
                        cx.at(
                            c.span(),
                            "count must be 0 or more",
                            "write e.g. `count = 200`",
                        )
                    })
                    .ok()
            });
            Action::Log(Log {
                path: name,
                contains,
                in_order: r.in_order.as_ref().is_some_and(|b| *b.get_ref()),
                count,
                forbid: r
                    .forbid
                    .as_ref()
                    .map_or_else(Vec::new, |f| f.get_ref().clone()),
            })
        }
        "proc" => {
            known(cx, started);
            let threads = r
                .threads
                .as_ref()
                .and_then(|t| u32::try_from(*t.get_ref()).ok());
            let max_cpu_share = match &r.max_cpu_share {
                Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 1.0 => Some(*v.get_ref()),
                Some(v) => {
                    cx.at(
                        v.span(),
                        format!("max_cpu_share {} is not a share of one CPU", v.get_ref()),
                        "write a number above 0 and at most 1, e.g. 0.05",
                    );
                    None
                }
                None => None,
            };
            let facts = ProcFacts {
                threads,
                alive: r.alive.as_ref().map(|a| *a.get_ref()),
                max_cpu_share,
                window: duration(cx, &r.window).unwrap_or(Duration::from_millis(100)),
            };
            if facts.threads.is_none() && facts.alive.is_none() && facts.max_cpu_share.is_none() {
                cx.at(
                    target.span(),
                    format!("step {number}: which fact of /proc?"),
                    "add threads = N, alive = true/false or max_cpu_share = 0.05",
                );
            }
            Action::Proc { name, facts }
        }
        "stop" => {
            known(cx, started);
            Action::Stop { name }
        }
        _ => return None,
    };
    Some(Step {
        number,
        action,
        hint,
        timeout,
    })
}
