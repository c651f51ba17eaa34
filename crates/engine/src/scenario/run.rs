//! Running a scenario: its processes by name, each step in order, and the verdict of the first
//! step that fails (naming the step, the process and what was seen).
//!
//! Every wait is bounded by the step's timeout and the check's own deadline, and wakes on
//! output, exits or a short look at /proc; nothing sleeps blindly. Every process the scenario
//! started is killed when it returns (dropping a `Running` kills and reaps its whole run).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lab::Check;
use report::model::Evidence;
use sandbox::{Ending, Outcome, Running, Spec, Stdin};

use super::Params;
use super::procfacts;
use super::step::{Action, Expect, Log, ProcFacts, Start, StdinPlan, Step, WaitOn};
use crate::checks::compare::{describe_ending, lossy, normalise};
use crate::checks::{Context, Verdict, program_limits, resolve_program};

/// How often /proc is looked at while waiting for a fact only /proc shows (a handler, a
/// listening socket, a path, a thread count); output and exits wake the wait at once.
const PROC_TICK: Duration = Duration::from_millis(5);

/// How long a start gate waits for every copy to reach it before it opens anyway.
const GATE_BOUND: Duration = Duration::from_secs(2);

/// Bytes read back from a socket or a log at most.
const READ_CAP: usize = 4 << 20;

/// One copy of a started process.
#[derive(Debug)]
enum Slot {
    Live(Running),
    Done(Outcome),
    /// Taken out for a moment while it is finished.
    Gone,
}

impl Slot {
    fn output(&self) -> Option<&sandbox::Output> {
        match self {
            Slot::Live(r) => Some(r.output_so_far()),
            Slot::Done(o) => Some(&o.output),
            Slot::Gone => None,
        }
    }

    fn ended(&self) -> bool {
        match self {
            Slot::Live(r) => r.has_ended(),
            _ => true,
        }
    }
}

#[derive(Debug)]
struct Proc {
    copies: Vec<Slot>,
    /// Each copy's end of its ready descriptor (non-blocking), when the start step gave one.
    ready: Vec<Option<std::os::fd::OwnedFd>>,
    /// Whether each copy has written its ready byte.
    ready_seen: Vec<bool>,
}

struct Run<'a> {
    ctx: &'a Context<'a>,
    dir: PathBuf,
    values: BTreeMap<String, String>,
    procs: BTreeMap<String, Proc>,
    deadline: Instant,
    transcript: Vec<String>,
}

/// A step failed: what to say.
struct Failed {
    summary: String,
    expected: Option<String>,
    actual: Option<String>,
}

fn failed(summary: impl Into<String>) -> Failed {
    Failed {
        summary: summary.into(),
        expected: None,
        actual: None,
    }
}

pub fn run(p: &Params, check: &Check, ctx: &Context<'_>) -> Verdict {
    for role in &check.uses.roles {
        if !ctx.is_primary(role) && ctx.identity(role).is_none() {
            return Verdict::skip(format!(
                "needs root: the grader must run processes as the lab's user for role `{role}`. Run it in Docker: docker/grade.sh (or the docker run line in README.md)"
            ));
        }
    }
    let dir = match check_dir(ctx, check) {
        Ok(dir) => dir,
        Err(e) => {
            return Verdict::fail(
                format!("the grader could not prepare this check's directory: {e}"),
                Evidence {
                    hint: Some("This is a problem of the grading machine, not of the submission: tell the course staff.".into()),
                    ..Evidence::default()
                },
            );
        }
    };
    let mut values = ctx.values.clone();
    values.insert("run".into(), dir.display().to_string());
    values.insert("tools".into(), tools_dir().display().to_string());
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    values.insert("seed".into(), u64::from_le_bytes(seed).to_string());
    values.insert(
        "random".into(),
        seed.iter().map(|b| format!("{b:02x}")).collect(),
    );
    for role in &ctx.lab.roles {
        let (uid, gid) = ctx.identity(&role.id).map_or_else(
            || {
                (
                    nix::unistd::getuid().as_raw(),
                    nix::unistd::getgid().as_raw(),
                )
            },
            |id| (id.uid, id.gid),
        );
        values.insert(format!("uid:{}", role.id), uid.to_string());
        values.insert(format!("gid:{}", role.id), gid.to_string());
    }
    let mut state = Run {
        ctx,
        dir,
        values,
        procs: BTreeMap::new(),
        deadline: Instant::now() + check.timeout,
        transcript: Vec::new(),
    };
    for step in &p.steps {
        state
            .transcript
            .push(format!("{}. {}", step.number, step.action.label()));
        if let Err(f) = state.step(step) {
            let hint = step.hint.clone().or_else(|| check.hint.clone());
            return Verdict::fail(
                format!(
                    "step {} ({}): {}",
                    step.number,
                    step.action.label(),
                    f.summary
                ),
                Evidence {
                    input: Some(state.transcript.join("\n")),
                    expected: f.expected,
                    actual: f.actual,
                    hint,
                    ..Evidence::default()
                },
            );
        }
    }
    let n = p.steps.len();
    Verdict::pass(format!(
        "all {n} step{} held",
        if n == 1 { "" } else { "s" }
    ))
}

/// Where the grader finds the lab's tool programs: `GRADER_TOOLS_DIR`, else its own directory.
fn tools_dir() -> PathBuf {
    std::env::var_os("GRADER_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
        })
        .unwrap_or_else(|| PathBuf::from("/usr/local/lib/ipc-lab"))
}

/// A directory of this check's own, with fresh fixtures: scenarios run in parallel with other
/// checks, and their sockets and logs must not meet. Writable by every role (sticky, like /tmp).
fn check_dir(ctx: &Context<'_>, check: &Check) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dir = ctx.scratch.root.join(format!("check-{}", check.id));
    std::fs::create_dir(&dir)?;
    ctx.scratch
        .lay_out_fixtures_in(&dir, &ctx.lab.fixtures, &ctx.values, ctx.owners)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777))?;
    Ok(dir)
}

impl Run<'_> {
    fn expand(&self, text: &str) -> String {
        lab::expand(text, &self.values)
    }

    fn step(&mut self, step: &Step) -> Result<(), Failed> {
        match &step.action {
            Action::Start(start) => self.start(start),
            Action::Wait { name, on } => self.wait(name, on, step),
            Action::Write { name, text } => {
                let text = self.expand(text);
                let proc = self.proc_mut(name)?;
                for slot in &mut proc.copies {
                    if let Slot::Live(r) = slot
                        && !r.write_stdin(text.as_bytes())
                    {
                        return Err(failed(format!(
                            "`{name}` has no open stdin to write to (start it with `stdin_pipe = true`, or it closed its stdin)"
                        )));
                    }
                }
                Ok(())
            }
            Action::Close { name } => {
                let proc = self.proc_mut(name)?;
                for slot in &mut proc.copies {
                    if let Slot::Live(r) = slot {
                        r.close_stdin();
                    }
                }
                Ok(())
            }
            Action::Signal { name, signal } => {
                let proc = self.proc_mut(name)?;
                for (i, slot) in proc.copies.iter().enumerate() {
                    match slot {
                        Slot::Live(r) if !r.has_ended() => {
                            r.signal(*signal).map_err(|e| failed(e.to_string()))?;
                        }
                        _ => {
                            return Err(failed(format!(
                                "`{}` has already ended, so it cannot get {}",
                                copy_name(name, i, proc.copies.len()),
                                signal.as_str()
                            )));
                        }
                    }
                }
                Ok(())
            }
            Action::Connect {
                path,
                send,
                expect_reply,
                reply_contains,
            } => self.connect(
                path,
                send,
                expect_reply.as_deref(),
                reply_contains.as_deref(),
                step,
            ),
            Action::Expect { name, facts } => self.expect(name, facts, step),
            Action::Log(log) => self.log(log),
            Action::Proc { name, facts } => self.proc_facts(name, facts),
            Action::Stop { name } => {
                let exit_timeout = self.ctx.lab.defaults.exit_timeout;
                let proc = self.proc_mut(name)?;
                for slot in &mut proc.copies {
                    if let Slot::Live(r) = slot
                        && !r.has_ended()
                    {
                        let _ = r.signal(nix::sys::signal::Signal::SIGTERM);
                    }
                }
                for slot in &mut proc.copies {
                    if let Slot::Live(_) = slot
                        && let Slot::Live(r) = std::mem::replace(slot, Slot::Gone)
                    {
                        *slot = Slot::Done(r.finish_within(exit_timeout));
                    }
                }
                Ok(())
            }
        }
    }

    fn proc_mut(&mut self, name: &str) -> Result<&mut Proc, Failed> {
        self.procs.get_mut(name).ok_or_else(|| {
            failed(format!(
                "`{name}` was not started (an earlier step failed to start it)"
            ))
        })
    }

    fn start(&mut self, start: &Start) -> Result<(), Failed> {
        let mut copies = Vec::with_capacity(start.copies);
        let mut shown = String::new();
        // Copies are released together through a start gate when this grader can be the gate's
        // trampoline; otherwise they start back to back, as they are spawned.
        let gate = if start.copies > 1 {
            sandbox::gate::Gate::new(&self.ctx.scratch.root).unwrap_or(None)
        } else {
            None
        };
        let mut ready = Vec::with_capacity(start.copies);
        for i in 0..start.copies {
            self.values.insert("i".into(), i.to_string());
            let mut spec = self.spec(start);
            if start.ready_fd {
                let (mine, theirs) = ready_pipe().map_err(|e| {
                    failed(format!(
                        "no pipe for `{}`'s ready descriptor: {e}",
                        start.name
                    ))
                })?;
                spec.ready_fd = Some(std::sync::Arc::new(theirs));
                ready.push(Some(mine));
            } else {
                ready.push(None);
            }
            if i == 0 {
                let who = self
                    .ctx
                    .identity(&start.role)
                    .map_or_else(String::new, |id| format!(" (as {})", id.name));
                let mut line = vec![spec.program.to_string_lossy().into_owned()];
                line.extend(spec.args.iter().map(|a| a.to_string_lossy().into_owned()));
                shown = format!(
                    "{}{}{who}",
                    line.join(" "),
                    if start.copies > 1 {
                        format!(" x{}", start.copies)
                    } else {
                        String::new()
                    }
                );
            }
            if let Some(gate) = &gate {
                gate.hold(&mut spec);
            }
            match Running::spawn(spec) {
                Ok(r) => copies.push(Slot::Live(r)),
                Err(e) => {
                    return Err(Failed {
                        summary: format!(
                            "`{}` could not be started: {e}",
                            copy_name(&start.name, i, start.copies)
                        ),
                        expected: None,
                        actual: None,
                    });
                }
            }
        }
        self.values.remove("i");
        if let Some(gate) = gate {
            let waiting = gate.release(copies.len(), GATE_BOUND);
            if waiting == copies.len() {
                shown.push_str(", released together");
            } else {
                shown.push_str(&format!(
                    ", released after {} ms with {waiting} of {} at the start gate",
                    GATE_BOUND.as_millis(),
                    copies.len()
                ));
            }
        }
        if let Some(Slot::Live(first)) = copies.first() {
            self.values
                .insert(format!("pid:{}", start.name), first.pid().to_string());
        }
        if let Some(last) = self.transcript.last_mut() {
            last.push_str(&format!(": {shown}"));
        }
        let ready_seen = vec![false; copies.len()];
        self.procs.insert(
            start.name.clone(),
            Proc {
                copies,
                ready,
                ready_seen,
            },
        );
        Ok(())
    }

    fn spec(&self, start: &Start) -> Spec {
        let ctx = self.ctx;
        let mut command: Vec<String> = match &start.program {
            Some(program) => ctx.program_command(program),
            None => start.command.iter().map(|c| self.expand(c)).collect(),
        };
        command.extend(start.args.iter().map(|a| self.expand(a)));
        let (head, args) = command
            .split_first()
            .map_or((String::new(), Vec::new()), |(h, a)| {
                (h.clone(), a.to_vec())
            });
        let identity = ctx.identity(&start.role).cloned();
        let home: PathBuf = if ctx.is_primary(&start.role) {
            ctx.scratch.home.clone()
        } else {
            PathBuf::from("/nonexistent")
        };
        let mut env: Vec<(OsString, OsString)> = vec![
            ("PATH".into(), ctx.tool_path.clone()),
            ("HOME".into(), home.into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ];
        for (k, v) in &start.env {
            env.push((k.into(), self.expand(v).into()));
        }
        let stdin = match &start.stdin {
            StdinPlan::Null => Stdin::Null,
            StdinPlan::Text(t) => Stdin::Bytes(self.expand(t).into_bytes()),
            StdinPlan::Pipe => Stdin::Pipe,
        };
        let left = self.deadline.saturating_duration_since(Instant::now());
        let mut limits = program_limits(identity.is_some());
        if identity.is_some() {
            // Servers with worker threads and many clients of one user: threads count too.
            limits.processes = 512;
        }
        Spec {
            program: resolve_program(&head, &ctx.tool_path),
            args: args.into_iter().map(OsString::from).collect(),
            cwd: self.dir.clone(),
            env,
            stdin,
            limits,
            identity,
            deadline: start.deadline.map_or(left, |d| d.min(left)),
            output_cap: ctx.lab.defaults.output_cap,
            isolate_network: ctx.isolate_network,
            ready_fd: None,
        }
    }

    /// Pumps every live process until `until`, any activity, or the nearest deadline.
    fn pump(&mut self, until: Instant) {
        let mut live: Vec<&mut Running> = self
            .procs
            .values_mut()
            .flat_map(|p| p.copies.iter_mut())
            .filter_map(|s| match s {
                Slot::Live(r) if !r.has_ended() => Some(r),
                _ => None,
            })
            .collect();
        if live.is_empty() {
            return;
        }
        sandbox::pump_many(&mut live, until);
    }

    fn bound(&self, step: &Step, default: Duration) -> Instant {
        (Instant::now() + step.timeout.unwrap_or(default)).min(self.deadline)
    }

    fn wait(&mut self, name: &str, on: &WaitOn, step: &Step) -> Result<(), Failed> {
        let until = self.bound(step, self.ctx.lab.defaults.ready_timeout);
        let regex = match on {
            WaitOn::StdoutLine(r) | WaitOn::StderrLine(r) => Some(
                regex::Regex::new(&self.expand(r))
                    .map_err(|e| failed(format!("the pattern is not a valid regex: {e}")))?,
            ),
            _ => None,
        };
        let path = match on {
            WaitOn::Listening(p) | WaitOn::Path(p) => self.expand(p),
            _ => String::new(),
        };
        loop {
            let proc = self.proc_mut(name)?;
            if matches!(on, WaitOn::ReadyFd) {
                if proc.ready.iter().all(Option::is_none) {
                    return Err(failed(format!(
                        "`{name}` was started without a ready descriptor: add `ready_fd = true` to its start step"
                    )));
                }
                for (fd, seen) in proc.ready.iter().zip(proc.ready_seen.iter_mut()) {
                    if let Some(fd) = fd
                        && !*seen
                    {
                        let mut byte = [0u8; 1];
                        *seen = matches!(rustix::io::read(fd, &mut byte), Ok(n) if n > 0);
                    }
                }
            }
            let count = proc.copies.len();
            let mut all = true;
            let mut ended_without = None;
            for (i, slot) in proc.copies.iter().enumerate() {
                let ok = match on {
                    WaitOn::StdoutLine(_) | WaitOn::StderrLine(_) => {
                        let out = slot.output().map_or_else(String::new, |o| {
                            lossy(if matches!(on, WaitOn::StdoutLine(_)) {
                                &o.stdout
                            } else {
                                &o.stderr
                            })
                        });
                        regex
                            .as_ref()
                            .is_some_and(|re| out.lines().any(|l| re.is_match(l)))
                    }
                    WaitOn::Handlers(signals) => match slot {
                        Slot::Live(r) => r.caught_mask().is_some_and(|mask| {
                            signals
                                .iter()
                                .all(|s| mask & (1u64 << (*s as i32 - 1)) != 0)
                        }),
                        _ => false,
                    },
                    WaitOn::Listening(_) => match slot {
                        Slot::Live(r) if !r.has_ended() => {
                            procfacts::unix_listening(r.pid(), &path)
                        }
                        _ => false,
                    },
                    WaitOn::Path(_) => std::fs::symlink_metadata(&path).is_ok(),
                    WaitOn::Exit => slot.ended(),
                    WaitOn::Threads(n) => match slot {
                        Slot::Live(r) => r
                            .status_field("Threads")
                            .and_then(|t| t.parse::<u32>().ok())
                            .is_some_and(|t| t >= *n),
                        _ => false,
                    },
                    WaitOn::ReadyFd => proc.ready_seen.get(i).copied().unwrap_or(false),
                };
                if !ok {
                    all = false;
                    if slot.ended() && !matches!(on, WaitOn::Exit | WaitOn::Path(_)) {
                        ended_without = Some(i);
                    }
                }
            }
            if all {
                return Ok(());
            }
            let what = describe_wait(on, &path);
            if let Some(i) = ended_without {
                let out = proc.copies[i].output().cloned().unwrap_or_default();
                return Err(Failed {
                    summary: format!("`{}` ended before {what}", copy_name(name, i, count)),
                    expected: Some(what),
                    actual: Some(shown_output(&out)),
                });
            }
            if Instant::now() >= until {
                let out = proc
                    .copies
                    .first()
                    .and_then(Slot::output)
                    .cloned()
                    .unwrap_or_default();
                return Err(Failed {
                    summary: format!(
                        "waited {:.1} s for `{name}`: not yet {what}",
                        step.timeout
                            .unwrap_or(self.ctx.lab.defaults.ready_timeout)
                            .as_secs_f64()
                    ),
                    expected: Some(what),
                    actual: Some(shown_output(&out)),
                });
            }
            let next = match on {
                WaitOn::StdoutLine(_) | WaitOn::StderrLine(_) | WaitOn::Exit => until,
                _ => (Instant::now() + PROC_TICK).min(until),
            };
            self.pump(next);
        }
    }

    fn expect(&mut self, name: &str, facts: &Expect, step: &Step) -> Result<(), Failed> {
        // Wait for every copy to end, within the step's bound (default: the check's deadline).
        let until = self.bound(
            step,
            self.deadline.saturating_duration_since(Instant::now()),
        );
        loop {
            let proc = self.proc_mut(name)?;
            if proc.copies.iter().all(Slot::ended) || Instant::now() >= until {
                break;
            }
            self.pump(until);
        }
        let values = self.values.clone();
        let expand = |t: &str| lab::expand(t, &values);
        let proc = self.proc_mut(name)?;
        let count = proc.copies.len();
        for slot in &mut proc.copies {
            if let Slot::Live(_) = slot
                && let Slot::Live(r) = std::mem::replace(slot, Slot::Gone)
            {
                *slot = Slot::Done(r.finish_within(Duration::ZERO));
            }
        }
        for (i, slot) in proc.copies.iter().enumerate() {
            let Slot::Done(outcome) = slot else { continue };
            let who = copy_name(name, i, count);
            let stdout = lossy(&outcome.output.stdout);
            let stderr = lossy(&outcome.output.stderr);
            let fail = |summary: String, expected: Option<String>| Failed {
                summary,
                expected,
                actual: Some(shown_output(&outcome.output)),
            };
            for text in facts.forbid.iter().map(|t| expand(t)) {
                if stdout.contains(&text) || stderr.contains(&text) {
                    return Err(fail(
                        format!("`{who}` printed a forbidden text"),
                        Some(format!("no trace of: {text}")),
                    ));
                }
            }
            if outcome.ending == Ending::TimedOut {
                return Err(fail(
                    format!("`{who}` did not end in time (killed at its deadline)"),
                    None,
                ));
            }
            if let Some(code) = facts.exit
                && outcome.ending != Ending::Exited(code)
            {
                return Err(fail(
                    format!("`{who}` {}", describe_ending(outcome.ending)),
                    Some(format!("exit status {code}")),
                ));
            }
            if let Some(sig) = facts.signaled
                && outcome.ending != Ending::Signaled(sig)
            {
                return Err(fail(
                    format!("`{who}` {}", describe_ending(outcome.ending)),
                    Some(format!("killed by {}", sig.as_str())),
                ));
            }
            if let Some(want) = &facts.stdout {
                let want = expand(want);
                if normalise(&stdout) != normalise(&want) {
                    return Err(fail(
                        format!("`{who}`'s stdout is not the expected text"),
                        Some(want),
                    ));
                }
            }
            for want in facts.stdout_contains.iter().map(|t| expand(t)) {
                if !stdout.contains(&want) {
                    return Err(fail(format!("`{who}`'s stdout lacks `{want}`"), Some(want)));
                }
            }
            if let Some(prefix) = &facts.stdout_starts_with {
                let prefix = expand(prefix);
                if !stdout.starts_with(&prefix) {
                    return Err(fail(
                        format!("`{who}`'s stdout does not start with `{prefix}`"),
                        Some(format!("{prefix} ...")),
                    ));
                }
            }
            if let Some(pattern) = &facts.stdout_matches {
                let pattern = expand(pattern);
                let re = regex::RegexBuilder::new(&pattern)
                    .multi_line(true)
                    .build()
                    .map_err(|e| failed(format!("the pattern is not a valid regex: {e}")))?;
                if !re.is_match(&stdout) {
                    return Err(fail(
                        format!("`{who}`'s stdout does not match `{pattern}`"),
                        Some(pattern),
                    ));
                }
            }
            for want in facts.stderr_contains.iter().map(|t| expand(t)) {
                if !stderr.contains(&want) {
                    return Err(fail(format!("`{who}`'s stderr lacks `{want}`"), Some(want)));
                }
            }
        }
        Ok(())
    }

    fn connect(
        &mut self,
        path: &str,
        send: &str,
        expect_reply: Option<&str>,
        reply_contains: Option<&str>,
        step: &Step,
    ) -> Result<(), Failed> {
        let path = self.expand(path);
        let send = self.expand(send);
        let until = self.bound(step, self.ctx.lab.defaults.ready_timeout);
        // The grader connects as itself: only to a socket (never through a link) that one of the
        // lab's users made, so a student cannot point it at a socket of the machine.
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| failed(format!("no socket at {path}: {e}")))?;
        let lab_uids: Vec<u32> = self.ctx.owners.all().iter().map(|id| id.uid).collect();
        if !meta.file_type().is_socket() {
            return Err(failed(format!("{path} is not a socket")));
        }
        use std::os::unix::fs::MetadataExt;
        if !lab_uids.is_empty() && !lab_uids.contains(&meta.uid()) {
            return Err(failed(format!(
                "{path} was not made by one of the lab's users, so the grader does not connect to it"
            )));
        }
        let mut stream = std::os::unix::net::UnixStream::connect(&path)
            .map_err(|e| failed(format!("cannot connect to {path}: {e}")))?;
        let left = until
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let _ = stream.set_write_timeout(Some(left));
        let _ = stream.set_read_timeout(Some(left));
        stream
            .write_all(send.as_bytes())
            .map_err(|e| failed(format!("cannot send to {path}: {e}")))?;
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut reply = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if Instant::now() >= until || reply.len() >= READ_CAP {
                break;
            }
            match stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => reply.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let reply = lossy(&reply);
        if let Some(want) = expect_reply {
            let want = self.expand(want);
            if normalise(&reply) != normalise(&want) {
                return Err(Failed {
                    summary: format!("the reply from {path} is not the expected text"),
                    expected: Some(want),
                    actual: Some(reply),
                });
            }
        }
        if let Some(want) = reply_contains {
            let want = self.expand(want);
            if !reply.contains(&want) {
                return Err(Failed {
                    summary: format!("the reply from {path} lacks `{want}`"),
                    expected: Some(want),
                    actual: Some(reply),
                });
            }
        }
        Ok(())
    }

    fn log(&mut self, log: &Log) -> Result<(), Failed> {
        let path = self.expand(&log.path);
        let text = read_nofollow(Path::new(&path), READ_CAP)
            .map_err(|e| failed(format!("cannot read the log {path}: {e}")))?;
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(n, l)| {
                serde_json::from_str(l)
                    .map_err(|e| failed(format!("line {} of {path} is not JSON: {e}", n + 1)))
            })
            .collect::<Result<_, _>>()?;
        if let Some(count) = log.count
            && lines.len() != count
        {
            return Err(Failed {
                summary: format!("{path} has {} lines", lines.len()),
                expected: Some(format!("{count} lines")),
                actual: Some(excerpt(&text)),
            });
        }
        for forbidden in log.forbid.iter().map(|t| self.expand(t)) {
            if text.contains(&forbidden) {
                return Err(Failed {
                    summary: format!("{path} holds a forbidden text"),
                    expected: Some(format!("no trace of: {forbidden}")),
                    actual: None,
                });
            }
        }
        let mut from = 0;
        for want in &log.contains {
            let want = expand_json(want, &self.values);
            let found = lines[from..].iter().position(|line| subset(&want, line));
            match found {
                Some(k) => {
                    if log.in_order {
                        from += k + 1;
                    }
                }
                None => {
                    return Err(Failed {
                        summary: format!(
                            "{path} has no line with {}{}",
                            want,
                            if log.in_order && from > 0 {
                                " after the ones matched before"
                            } else {
                                ""
                            }
                        ),
                        expected: Some(want.to_string()),
                        actual: Some(excerpt(&text)),
                    });
                }
            }
        }
        Ok(())
    }

    fn proc_facts(&mut self, name: &str, facts: &ProcFacts) -> Result<(), Failed> {
        if let Some(alive) = facts.alive {
            let proc = self.proc_mut(name)?;
            for (i, slot) in proc.copies.iter().enumerate() {
                if slot.ended() == alive {
                    return Err(failed(format!(
                        "`{}` is {}",
                        copy_name(name, i, proc.copies.len()),
                        if alive {
                            "no longer running"
                        } else {
                            "still running"
                        }
                    )));
                }
            }
        }
        if let Some(want) = facts.threads {
            let proc = self.proc_mut(name)?;
            for (i, slot) in proc.copies.iter().enumerate() {
                let threads = match slot {
                    Slot::Live(r) => r
                        .status_field("Threads")
                        .and_then(|t| t.parse::<u32>().ok()),
                    _ => None,
                };
                if threads != Some(want) {
                    return Err(Failed {
                        summary: format!(
                            "`{}` has {} threads",
                            copy_name(name, i, proc.copies.len()),
                            threads.map_or_else(|| "no".to_string(), |t| t.to_string())
                        ),
                        expected: Some(format!("{want} threads")),
                        actual: None,
                    });
                }
            }
        }
        if let Some(max) = facts.max_cpu_share {
            let before = self.cpu_of(name)?;
            let started = Instant::now();
            let until = (started + facts.window).min(self.deadline);
            while Instant::now() < until {
                self.pump(until);
            }
            let after = self.cpu_of(name)?;
            let window = started.elapsed().as_secs_f64().max(1e-3);
            for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                let share = a.saturating_sub(*b).as_secs_f64() / window;
                if share > max {
                    return Err(Failed {
                        summary: format!(
                            "`{}` used {:.0}% of a CPU over {:.0} ms while it should wait",
                            copy_name(name, i, before.len()),
                            share * 100.0,
                            window * 1e3
                        ),
                        expected: Some(format!("at most {:.0}%", max * 100.0)),
                        actual: None,
                    });
                }
            }
        }
        Ok(())
    }

    fn cpu_of(&mut self, name: &str) -> Result<Vec<Duration>, Failed> {
        let proc = self.proc_mut(name)?;
        proc.copies
            .iter()
            .enumerate()
            .map(|(i, slot)| match slot {
                // CPU time it got. (Demand, which adds time runnable but waiting, would catch a
                // starved spinner but also charges an idle server every wake-up's wait on a
                // loaded machine: labs set thresholds and windows for CPU time.)
                Slot::Live(r) => r.cpu_time().ok_or_else(|| {
                    failed(format!(
                        "`{}` ended, so its CPU use cannot be watched",
                        copy_name(name, i, proc.copies.len())
                    ))
                }),
                _ => Err(failed(format!(
                    "`{}` ended, so its CPU use cannot be watched",
                    copy_name(name, i, proc.copies.len())
                ))),
            })
            .collect()
    }
}

/// `client` for one copy, `client.3` for the fourth of several.
fn copy_name(name: &str, i: usize, count: usize) -> String {
    if count > 1 {
        format!("{name}.{i}")
    } else {
        name.to_string()
    }
}

fn describe_wait(on: &WaitOn, path: &str) -> String {
    match on {
        WaitOn::StdoutLine(r) => format!("a stdout line matching `{r}`"),
        WaitOn::StderrLine(r) => format!("a stderr line matching `{r}`"),
        WaitOn::Handlers(s) => format!(
            "handlers for {}",
            s.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        WaitOn::Listening(_) => format!("a Unix socket listening at {path}"),
        WaitOn::Path(_) => format!("{path} to exist"),
        WaitOn::Exit => "its end".to_string(),
        WaitOn::Threads(n) => format!("{n} threads"),
        WaitOn::ReadyFd => format!(
            "a byte on its ready descriptor (${})",
            sandbox::READY_FD_VAR
        ),
    }
}

fn shown_output(out: &sandbox::Output) -> String {
    let mut text = lossy(&out.stdout);
    if out.stdout_truncated {
        text.push_str("\n[... stdout truncated]");
    }
    let err = lossy(&out.stderr);
    if !err.trim().is_empty() {
        text.push_str(&format!("\n[stderr]\n{err}"));
    }
    text
}

fn excerpt(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 20 {
        text.to_string()
    } else {
        format!(
            "{}\n[... {} more lines]",
            lines[..20].join("\n"),
            lines.len() - 20
        )
    }
}

/// Reads a file a student process wrote, never through a link and never more than `cap` bytes.
fn read_nofollow(path: &Path, cap: usize) -> std::io::Result<String> {
    let (file, _) = crate::nofollow::open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(cap as u64).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Placeholders filled into every string of a JSON value.
fn expand_json(value: &serde_json::Value, values: &BTreeMap<String, String>) -> serde_json::Value {
    match value {
        serde_json::Value::String(s) => serde_json::Value::String(lab::expand(s, values)),
        serde_json::Value::Array(a) => a.iter().map(|v| expand_json(v, values)).collect(),
        serde_json::Value::Object(o) => o
            .iter()
            .map(|(k, v)| (k.clone(), expand_json(v, values)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

/// Whether every key of `want` is in `line` with an equal value (objects compared the same way;
/// numbers by value, so 3 matches 3.0).
fn subset(want: &serde_json::Value, line: &serde_json::Value) -> bool {
    match (want, line) {
        (serde_json::Value::Object(w), serde_json::Value::Object(l)) => w
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|lv| subset(v, lv))),
        (serde_json::Value::Number(a), serde_json::Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

/// A pipe for a ready descriptor: the grader's non-blocking read end, the program's write end.
fn ready_pipe() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    rustix::fs::fcntl_setfl(&read, rustix::fs::OFlags::NONBLOCK)?;
    Ok((read, write))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_log_line_matches_when_it_has_every_wanted_key() {
        let line = json!({"verdict": "deny", "mid": 3, "from": "client"});
        assert!(subset(&json!({"verdict": "deny", "mid": 3}), &line));
        assert!(subset(&json!({"mid": 3.0}), &line));
        assert!(!subset(&json!({"verdict": "allow"}), &line));
        assert!(!subset(&json!({"reason": "x"}), &line));
    }

    #[test]
    fn copies_are_named_by_index() {
        assert_eq!(copy_name("client", 3, 8), "client.3");
        assert_eq!(copy_name("server", 0, 1), "server");
    }
}
