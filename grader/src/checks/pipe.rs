//! Checks of a filter program fed through an unnamed pipe (Part 2's cat): the name goes in on
//! stdin, stdout is compared under the whitespace policy, and forbidden texts (the secret) must
//! appear in no stream at all.

use crate::lab::{Check, Role};
use crate::model::Evidence;
use crate::sandbox::{self, Ending, Stdin};

use super::compare::{describe_ending, lossy, normalise};
use super::{Context, Verdict, hint_for, limits};

#[derive(Debug)]
pub struct PipeCheck<'a> {
    pub program: &'a str,
    pub stdin: &'a str,
    pub run_as: Role,
    pub expect_stdout: Option<&'a str>,
    pub expect_starts_with: Option<&'a str>,
    pub forbid: &'a [String],
}

pub fn run(ctx: &Context<'_>, check: &Check, p: PipeCheck<'_>) -> Verdict {
    if p.run_as == Role::Confined && ctx.identity(Role::Confined).is_none() {
        return Verdict::skip(
            "needs root: the grader must run the program as the sandbox user. Run it in Docker: docker/grade.sh (or the docker run line in README.md)",
        );
    }
    let stdin = crate::lab::expand(p.stdin, &ctx.values);
    let spec = ctx.program_spec(
        p.program,
        p.run_as,
        Stdin::Bytes(stdin.clone().into_bytes()),
        check.timeout,
    );
    let outcome = match sandbox::run(spec) {
        Ok(o) => o,
        Err(e) => return limits::could_not_start(&e, check.hint.clone()),
    };
    let who = match (p.run_as, ctx.identity(p.run_as)) {
        (Role::Confined, Some(id)) => format!(" (as {})", id.name),
        (Role::Owner, Some(id)) => format!(" (as {}, the files' owner)", id.name),
        _ => String::new(),
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
        p.program
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
        .map(|f| crate::lab::expand(f, &ctx.values))
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
    if let Some(want) = p.expect_stdout {
        let want = crate::lab::expand(want, &ctx.values);
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
    if let Some(prefix) = p.expect_starts_with {
        let prefix = crate::lab::expand(prefix, &ctx.values);
        if !stdout.starts_with(&prefix) {
            return fail(
                format!("stdout does not start with `{prefix}`{who}"),
                Some(format!("{prefix} ...")),
                hint_for(check, &outcome.output, Some(outcome.ending)),
            );
        }
    }
    let first = stdout.lines().next().unwrap_or_default();
    Verdict::pass(format!("printed `{}`{who}", shorten(first)))
}

fn shorten(line: &str) -> String {
    if line.chars().count() > 80 {
        format!("{}...", line.chars().take(80).collect::<String>())
    } else {
        line.to_string()
    }
}
