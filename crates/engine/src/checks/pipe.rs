//! Checks of a filter program fed through an unnamed pipe (Part 2's cat): the name goes in on
//! stdin, stdout is compared under the whitespace policy, and forbidden texts (the secret) must
//! appear in no stream at all.

use lab::{Check, KindCx, Uses};
use report::model::Evidence;
use sandbox::{Ending, Stdin};
use serde::Deserialize;
use toml::Spanned;

use super::compare::{describe_ending, lossy, normalise};
use super::{Context, Verdict, hint_for, limits};
use crate::kind::Kind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The `[programs]` entry to run.
    program: Option<Spanned<String>>,
    /// Bytes written to its stdin, then end of file (placeholders allowed).
    stdin: Option<Spanned<String>>,
    /// The role it runs as (default: the lab's first role).
    run_as: Option<Spanned<String>>,
    /// stdout must be this text (whitespace policy of labs/README.md).
    expect_stdout: Option<Spanned<String>>,
    /// stdout must start with this text.
    expect_stdout_starts_with: Option<Spanned<String>>,
    /// Texts that must appear in no output stream.
    forbid: Option<Spanned<Vec<String>>>,
}

#[derive(Debug)]
pub struct PipeCheck {
    pub program: String,
    pub stdin: String,
    pub run_as: String,
    pub expect_stdout: Option<String>,
    pub expect_starts_with: Option<String>,
    pub forbid: Vec<String>,
}

/// Kind `pipe`: feed stdin, check stdout (exact or prefix) and that forbidden texts appear in no
/// output.
#[derive(Debug)]
pub struct Pipe;

impl Kind for Pipe {
    const NAME: &'static str = "pipe";
    const ABOUT: &'static str = "feeds `stdin` to a program run as a role; checks stdout (exact or prefix) and that no `forbid` text appears in any output";
    type Raw = Raw;
    type Params = PipeCheck;

    fn validate(raw: Raw, cx: &mut KindCx<'_, '_>) -> Option<PipeCheck> {
        let run_as = cx.role(raw.run_as.as_ref());
        let expect_stdout = raw.expect_stdout.as_ref().map(|v| cx.text(v, &[]));
        let expect_starts_with = raw
            .expect_stdout_starts_with
            .as_ref()
            .map(|v| cx.text(v, &[]));
        let forbid: Vec<String> = raw.forbid.as_ref().map_or_else(Vec::new, |v| {
            for item in v.get_ref() {
                cx.placeholders_known(item, v.span(), &[]);
            }
            v.get_ref().clone()
        });
        if expect_stdout.is_none() && expect_starts_with.is_none() && forbid.is_empty() {
            cx.here(
                "a `pipe` check must expect something",
                "add `expect_stdout`, `expect_stdout_starts_with` or `forbid`",
            );
        }
        let stdin = match &raw.stdin {
            Some(v) => cx.text(v, &[]),
            None => {
                cx.missing("stdin");
                String::new()
            }
        };
        let program = match &raw.program {
            Some(v) => cx.program(v),
            None => {
                cx.missing("program");
                String::new()
            }
        };
        Some(PipeCheck {
            program,
            stdin,
            run_as,
            expect_stdout,
            expect_starts_with,
            forbid,
        })
    }

    fn uses(p: &PipeCheck) -> Uses {
        Uses {
            programs: vec![p.program.clone()],
            roles: vec![p.run_as.clone()],
            is_build: false,
        }
    }

    fn run(p: &PipeCheck, check: &Check, ctx: &Context<'_>) -> Verdict {
        run(ctx, check, p)
    }
}

pub fn run(ctx: &Context<'_>, check: &Check, p: &PipeCheck) -> Verdict {
    let primary = ctx.is_primary(&p.run_as);
    if !primary && ctx.identity(&p.run_as).is_none() {
        return Verdict::skip(
            "needs root: the grader must run the program as the sandbox user. Run it in Docker: docker/grade.sh (or the docker run line in README.md)",
        );
    }
    let stdin = lab::expand(&p.stdin, &ctx.values);
    let spec = ctx.program_spec(
        &p.program,
        &p.run_as,
        Stdin::Bytes(stdin.clone().into_bytes()),
        check.timeout,
    );
    let outcome = match sandbox::run(spec) {
        Ok(o) => o,
        Err(e) => return limits::could_not_start(&e, check.hint.clone()),
    };
    let who = match ctx.identity(&p.run_as) {
        Some(id) if primary => format!(" (as {}, the files' owner)", id.name),
        Some(id) => format!(" (as {})", id.name),
        None => String::new(),
    };
    let stdout = lossy(&outcome.output.stdout);
    let stderr = lossy(&outcome.output.stderr);
    let mut actual = stdout.clone();
    if outcome.output.stdout_truncated {
        actual.push_str("\n[... stdout truncated]");
    }
    if !stderr.trim().is_empty() {
        actual.push_str(&format!("\n[stderr]\n{stderr}"));
    }
    let input = Some(format!(
        "echo {:?} | {}{who}",
        stdin.trim_end_matches('\n'),
        &p.program
    ));
    let fail = |summary: String, expected: Option<String>, hint: Option<String>| {
        Verdict::fail(
            summary,
            Evidence {
                input: input.clone(),
                expected,
                actual: Some(actual.clone()),
                hint,
                ..Evidence::default()
            },
        )
    };

    // The secret check comes first: leaking it fails the check whatever else happened.
    let forbidden: Vec<String> = p
        .forbid
        .iter()
        .map(|f| lab::expand(f, &ctx.values))
        .collect();
    if let Some(leak) = forbidden
        .iter()
        .find(|f| stdout.contains(f.as_str()) || stderr.contains(f.as_str()))
    {
        let stream = if stdout.contains(leak.as_str()) {
            "stdout"
        } else {
            "stderr"
        };
        return fail(
            format!("the forbidden text appeared in {stream}{who}"),
            Some(format!("no trace of: {leak}")),
            hint_for(check, &outcome.output, Some(outcome.ending)),
        );
    }
    match outcome.ending {
        Ending::TimedOut => {
            return fail(
                format!(
                    "it did not finish within {:.1} s{who}; stdin was closed after the name{}",
                    check.timeout.as_secs_f64(),
                    limits::at_deadline(&outcome)
                ),
                None,
                Some(limits::deadline_hint(
                    &outcome,
                    "Read the name until end of input, print, and exit. A program that waits for more input, or opens something that blocks (a FIFO), never ends.",
                )),
            );
        }
        Ending::Signaled(sig) => {
            return fail(
                format!("it crashed{who}: killed by {}", sig.as_str()),
                None,
                Some(
                    limits::limit_hint(&outcome.output, Some(outcome.ending)).unwrap_or_else(
                        || {
                            "A crash is never a MEOW: catch the error and print a MEOW line instead."
                                .to_string()
                        },
                    ),
                ),
            );
        }
        Ending::Exited(_) => {}
    }
    if let Some(want) = &p.expect_stdout {
        let want = lab::expand(want, &ctx.values);
        if normalise(&stdout) != normalise(&want) {
            return fail(
                format!(
                    "stdout is not the expected text{who}; it {}",
                    describe_ending(outcome.ending)
                ),
                Some(want),
                hint_for(check, &outcome.output, Some(outcome.ending)),
            );
        }
    }
    if let Some(prefix) = &p.expect_starts_with {
        let prefix = lab::expand(prefix, &ctx.values);
        if !stdout.starts_with(&prefix) {
            return fail(
                format!("stdout does not start with `{prefix}`{who}"),
                Some(format!("{prefix} ...")),
                hint_for(check, &outcome.output, Some(outcome.ending)),
            );
        }
    }
    let first = stdout.lines().next().unwrap_or_default();
    limits::no_leftovers(
        Verdict::pass(format!("printed `{}`{who}", shorten(first))),
        &outcome,
    )
}

fn shorten(line: &str) -> String {
    if line.chars().count() > 80 {
        format!("{}...", line.chars().take(80).collect::<String>())
    } else {
        line.to_string()
    }
}
