//! Checks of a long-running program driven by signals (Part 1's listener). Signals are sent only
//! once `/proc/<pid>/status` shows them caught, so a listener that prints before installing its
//! handlers (as the original C version does) or installs them late is never raced; one that never
//! catches a signal is told so, instead of being "killed by signal 10".

use std::collections::BTreeMap;
use std::time::Duration;

use nix::sys::signal::Signal;

use lab::{Check, KindCx, Uses};
use report::model::Evidence;
use sandbox::{Ending, Measure, Outcome, Readiness, Running, Stdin};
use toml::Spanned;

use engine::checks::compare::{describe_ending, has_line, lossy};
use engine::checks::{Context, Verdict, hint_for, limits};

fn start(ctx: &Context<'_>, program: &str, check: &Check) -> Result<Running, Box<Verdict>> {
    let role = ctx.lab.primary_role().map_or("owner", |r| r.id.as_str());
    let spec = ctx.program_spec(program, role, Stdin::Null, check.timeout);
    Running::spawn(spec).map_err(|e| Box::new(limits::could_not_start(&e, check.hint.clone())))
}

fn output_text(outcome_out: &sandbox::Output) -> String {
    let mut text = lossy(&outcome_out.stdout);
    if outcome_out.stdout_truncated {
        text.push_str("\n[... stdout truncated]");
    }
    text
}

/// Fails with what was seen when the program ended before it caught its signals.
fn ended_early(
    ending: Ending,
    out: &sandbox::Output,
    check: &Check,
    waited_for: &[Signal],
) -> Verdict {
    Verdict::fail(
        format!("it {} before it caught {}", describe_ending(ending), names(waited_for)),
        Evidence {
            actual: Some(output_text(out)),
            hint: Some(limits::limit_hint(out, Some(ending)).unwrap_or_else(|| match ending {
                Ending::Signaled(_) => "The listener crashed while starting. Run it by hand in the image to see why.".to_string(),
                _ => "The listener must keep running until a signal arrives: install the handlers, print the PID, then wait (signal-hook's `forever()`, or pause() in C).".to_string(),
            })),
            ..Evidence::default()
        },
    )
    .with_fallback_hint(check)
}

/// The first line of `text` holding `word` as a whole word (not inside a longer number).
fn line_with_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    text.lines().find(|line| {
        line.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|token| token == word)
    })
}

fn names(signals: &[Signal]) -> String {
    signals
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The check's own hint when a verdict has none.
trait FallbackHint {
    fn with_fallback_hint(self, check: &Check) -> Self;
}

impl FallbackHint for Verdict {
    fn with_fallback_hint(mut self, check: &Check) -> Verdict {
        if self.evidence.hint.is_none() {
            self.evidence.hint = check.hint.clone();
        }
        self
    }
}

fn not_caught_hint(signal: Signal, ignored: bool, ready_timeout: Duration) -> String {
    if ignored {
        format!(
            "{} is ignored (SIG_IGN), not handled: install a handler that prints the line and exits.",
            signal.as_str()
        )
    } else {
        format!(
            "{} is never caught: {:.1} s after start the kernel still shows no handler for it (/proc/<pid>/status, SigCgt). Install a handler for {} before you wait.",
            signal.as_str(),
            ready_timeout.as_secs_f64(),
            signal.as_str()
        )
    }
}

/// The `program` key every listener kind has.
pub fn program(value: &Option<Spanned<String>>, cx: &mut KindCx<'_, '_>) -> String {
    match value {
        Some(v) => cx.program(v),
        None => {
            cx.missing("program");
            String::new()
        }
    }
}

/// The `signal` key of `listener-pid` and `signal` checks.
pub fn signal_key(value: &Option<Spanned<String>>, cx: &mut KindCx<'_, '_>) -> Signal {
    match value {
        Some(v) => cx.signal(v).unwrap_or(Signal::SIGUSR1),
        None => {
            cx.missing("signal");
            Signal::SIGUSR1
        }
    }
}

/// A listener check runs its program as the lab's first role.
pub fn uses(program: &str) -> Uses {
    Uses {
        programs: vec![program.to_string()],
        ..Uses::default()
    }
}

/// `Listener PID: <pid>` with the pid of the process itself.
pub fn pid(
    ctx: &Context<'_>,
    check: &Check,
    program: &str,
    signal: Signal,
    expect_line: &str,
) -> Verdict {
    let mut running = match start(ctx, program, check) {
        Ok(r) => r,
        Err(v) => return *v,
    };
    // In a pod the listener sees its own pid (and its parent's) in the pod's PID namespace.
    let pid = running.own_pid();
    let parent = running.parent_pid_seen().to_string();
    let both = [Signal::SIGINT, Signal::SIGUSR1];
    let ending_signal = match running.wait_for_caught(&both, ctx.lab.defaults.ready_timeout) {
        Readiness::Ready { .. } => Some(signal),
        // Not every handler is there (other checks say which); end it with one that is, so a
        // block-buffered C listener still flushes its output.
        Readiness::NotReady { caught, .. } => caught.first().copied(),
        Readiness::Ended(ending) => {
            return ended_early(ending, &running.finish().output, check, &both);
        }
    };
    let outcome = match ending_signal {
        Some(sig) if running.signal(sig).is_ok() => {
            running.finish_within(ctx.lab.defaults.exit_timeout)
        }
        _ => running.finish_within(Duration::ZERO),
    };
    let mut values = BTreeMap::new();
    values.insert("pid".to_string(), pid.to_string());
    let want = lab::expand(expect_line, &values);
    let stdout = lossy(&outcome.output.stdout);
    if has_line(&stdout, &want) {
        return limits::no_leftovers(Verdict::pass(format!("printed `{want}`")), &outcome);
    }
    let hint = if stdout.contains(&format!(": {parent}")) {
        Some("That is the grader's PID, the listener's parent: print the listener's own PID (std::process::id(), getpid()), not the parent's.".to_string())
    } else if has_line(&lossy(&outcome.output.stderr), &want) {
        Some("The PID line went to stderr: print it on stdout.".to_string())
    } else if let Some(line) = line_with_word(&stdout, &pid.to_string()) {
        Some(format!(
            "The PID is right but the line is not: it reads `{}`, and it must read exactly `{want}` (letter case, spaces and the colon count).",
            line.trim_end()
        ))
    } else if stdout.trim().is_empty() && ending_signal.is_none() {
        Some("Nothing was printed, and no handler was installed to end the listener cleanly: print the PID line, flush it, and catch SIGINT/SIGUSR1.".to_string())
    } else {
        hint_for(check, &outcome.output, Some(outcome.ending))
    };
    Verdict::fail(
        format!("no line `{want}` in stdout (its PID was {pid})"),
        Evidence {
            expected: Some(want),
            actual: Some(output_text(&outcome.output)),
            hint,
            ..Evidence::default()
        },
    )
}

/// Once the signal is caught, send it; check the line printed and/or the exit status.
pub fn signal(
    ctx: &Context<'_>,
    check: &Check,
    program: &str,
    signal: Signal,
    expect_line: Option<&str>,
    expect_exit: Option<i32>,
) -> Verdict {
    let mut running = match start(ctx, program, check) {
        Ok(r) => r,
        Err(v) => return *v,
    };
    let input = Some(format!(
        "kill -s {} <pid>, once the handler is installed",
        signal.as_str().trim_start_matches("SIG")
    ));
    match running.wait_for_caught(&[signal], ctx.lab.defaults.ready_timeout) {
        Readiness::Ready { .. } => {}
        Readiness::Ended(ending) => {
            return ended_early(ending, &running.finish().output, check, &[signal]);
        }
        Readiness::NotReady { ignored, .. } => {
            let out = running.finish_within(Duration::ZERO).output;
            return Verdict::fail(
                format!("{} was never caught, so it was not sent", signal.as_str()),
                Evidence {
                    input,
                    actual: Some(output_text(&out)),
                    hint: Some(not_caught_hint(
                        signal,
                        ignored.contains(&signal),
                        ctx.lab.defaults.ready_timeout,
                    )),
                    ..Evidence::default()
                },
            );
        }
    }
    if let Err(e) = running.signal(signal) {
        return Verdict::fail(
            format!("could not send {}: {e}", signal.as_str()),
            Evidence::default(),
        );
    }
    let outcome = running.finish_within(ctx.lab.defaults.exit_timeout);
    let verdict = judge_signal_outcome(
        ctx,
        check,
        signal,
        expect_line,
        expect_exit,
        &outcome,
        input,
    );
    limits::no_leftovers(verdict, &outcome)
}

fn judge_signal_outcome(
    ctx: &Context<'_>,
    check: &Check,
    signal: Signal,
    expect_line: Option<&str>,
    expect_exit: Option<i32>,
    outcome: &Outcome,
    input: Option<String>,
) -> Verdict {
    let stdout = lossy(&outcome.output.stdout);
    let evidence = |expected: String, actual: String, hint: Option<String>| Evidence {
        input: input.clone(),
        expected: Some(expected),
        actual: Some(actual),
        hint,
        ..Evidence::default()
    };
    if outcome.ending == Ending::TimedOut {
        return Verdict::fail(
            format!(
                "still running {:.1} s after {}{}",
                ctx.lab.defaults.exit_timeout.as_secs_f64(),
                signal.as_str(),
                limits::at_deadline(outcome)
            ),
            evidence(
                expect_line.map_or_else(|| "the program exits".to_string(), str::to_string),
                output_text(&outcome.output),
                Some(limits::deadline_hint(
                    outcome,
                    &format!(
                        "After handling {} the listener must exit (return from main, or std::process::exit), not go back to waiting.",
                        signal.as_str()
                    ),
                )),
            ),
        );
    }
    if let Some(line) = expect_line
        && !has_line(&stdout, line)
    {
        let hint = if has_line(&lossy(&outcome.output.stderr), line) {
            Some("The line went to stderr: print it on stdout.".to_string())
        } else if let Ending::Signaled(s) = outcome.ending {
            Some(format!(
                "It was killed by {} before printing: the handler must print the line and let the program exit normally.",
                s.as_str()
            ))
        } else {
            hint_for(check, &outcome.output, Some(outcome.ending))
        };
        return Verdict::fail(
            format!(
                "after {} no line `{line}` in stdout; it {}",
                signal.as_str(),
                describe_ending(outcome.ending)
            ),
            evidence(line.to_string(), output_text(&outcome.output), hint),
        );
    }
    if let Some(code) = expect_exit
        && outcome.ending != Ending::Exited(code)
    {
        return Verdict::fail(
            format!(
                "after {} it {}, expected exit status {code}",
                signal.as_str(),
                describe_ending(outcome.ending)
            ),
            evidence(
                format!("exit status {code}"),
                describe_ending(outcome.ending),
                hint_for(check, &outcome.output, Some(outcome.ending)),
            ),
        );
    }
    let mut said = Vec::new();
    if let Some(line) = expect_line {
        said.push(format!("printed `{line}`"));
    }
    if let Some(code) = expect_exit {
        said.push(format!("exited with status {code}"));
    }
    Verdict::pass(format!("after {}: {}", signal.as_str(), said.join(" and ")))
}

/// Once ready, the program must sleep in the kernel, not spin.
pub fn idle(
    ctx: &Context<'_>,
    check: &Check,
    program: &str,
    window: Duration,
    max_share: f64,
) -> Verdict {
    let mut running = match start(ctx, program, check) {
        Ok(r) => r,
        Err(v) => return *v,
    };
    let both = [Signal::SIGINT, Signal::SIGUSR1];
    // A listener that never catches both is still measured once the wait for it is over: the
    // signal checks already lose their points for that, and one that waits well keeps this one.
    if let Readiness::Ended(ending) = running.wait_for_caught(&both, ctx.lab.defaults.ready_timeout)
    {
        return ended_early(ending, &running.finish().output, check, &both);
    }
    // What the run asked of the CPUs, not what it got: on a machine busy grading many
    // submissions at once a busy loop may get little CPU time, but it is always runnable. And
    // the whole run, not the main process alone: a child that spins while its parent pauses, or
    // a fork bomb whose every process gets a sliver of a CPU, is busy too.
    let measure = if running.run_cpu(Measure::Demand).is_some() {
        Measure::Demand
    } else {
        Measure::Time
    };
    // The window starts at a drawn moment of the first `window` after readiness and lasts
    // between one and two `window`s, so a listener cannot time a burst around a fixed window.
    let (delay, length) = drawn_window(window);
    if let Some(ending) = running.watch(delay) {
        return ended_while_waiting(ending, running, check);
    }
    let Some(before) = running.run_cpu(measure) else {
        return Verdict::fail("its CPU time could not be read", Evidence::default());
    };
    let started = std::time::Instant::now();
    if let Some(ending) = running.watch(length) {
        return ended_while_waiting(ending, running, check);
    }
    let elapsed = started.elapsed();
    let after = running.run_cpu(measure).unwrap_or(before);
    drop(running);
    let share = (after.saturating_sub(before)).as_secs_f64() / elapsed.as_secs_f64().max(1e-3);
    let measured = format!(
        "{:.0}% of one CPU over {} ms",
        share * 100.0,
        elapsed.as_millis()
    );
    if share <= max_share {
        Verdict::pass(format!("used {measured} while waiting"))
    } else {
        Verdict::fail(
            format!(
                "used {measured} while waiting (at most {:.0}% allowed)",
                max_share * 100.0
            ),
            Evidence {
                expected: Some(format!("at most {:.0}% of one CPU", max_share * 100.0)),
                actual: Some(measured),
                hint: Some(format!(
                    "It is busy-waiting: a loop that checks a flag keeps a CPU at 100%. {}",
                    check.hint.clone().unwrap_or_default()
                )),
                ..Evidence::default()
            },
        )
    }
}

/// The idle window's delay after readiness (up to one `window`) and its length (one to two).
fn drawn_window(window: Duration) -> (Duration, Duration) {
    let mut bytes = [0u8; 4];
    // Without randomness the window is simply the fixed one.
    let _ = getrandom::fill(&mut bytes);
    let delay = window.mul_f64(f64::from(u16::from_le_bytes([bytes[0], bytes[1]])) / 65535.0);
    let length =
        window + window.mul_f64(f64::from(u16::from_le_bytes([bytes[2], bytes[3]])) / 65535.0);
    (delay, length)
}

fn ended_while_waiting(ending: Ending, running: Running, check: &Check) -> Verdict {
    let out = running.finish().output;
    Verdict::fail(
        format!(
            "it {} while it should have been waiting for a signal",
            describe_ending(ending)
        ),
        Evidence {
            actual: Some(output_text(&out)),
            hint: hint_for(check, &out, Some(ending)),
            ..Evidence::default()
        },
    )
}
