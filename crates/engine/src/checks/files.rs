//! Checks that only read the submission: fixture files, .gitignore, the CI file, sources, tags.

use crate::submission::{self, Entry};
use lab::Check;
use report::model::Evidence;

use super::compare::normalise;
use super::{Context, Verdict};

pub fn contents(ctx: &Context<'_>, path: &str, expect: &str, check: &Check) -> Verdict {
    match submission::read_text(ctx.submission, path) {
        Ok(text) if text == expect || text.strip_suffix('\n').is_some_and(|t| t == expect) => {
            Verdict::pass(format!("{path} holds the expected text"))
        }
        Ok(text) => Verdict::fail(
            format!("{path} does not hold the expected text"),
            Evidence {
                expected: Some(expect.to_string()),
                actual: Some(text.clone()),
                hint: Some(if normalise(&text) == normalise(expect) {
                    format!(
                        "Only the whitespace differs: {path} must hold exactly the text, with at most one newline at the end."
                    )
                } else {
                    check.hint.clone().unwrap_or_default()
                }),
                ..Evidence::default()
            },
        ),
        Err(e) => with_lab_hint(e.to_string(), check),
    }
}

pub fn ignores(ctx: &Context<'_>, paths: &[String], check: &Check) -> Verdict {
    let text = match submission::read_text(ctx.submission, ".gitignore") {
        Ok(t) => t,
        Err(e) => {
            return with_lab_hint(e.to_string(), check);
        }
    };
    let missing: Vec<&str> = paths
        .iter()
        .filter(|p| !submission::gitignore_ignores(ctx.submission, &text, p))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Verdict::pass(format!(".gitignore ignores {}", paths.join(", ")))
    } else {
        Verdict::fail(
            format!(".gitignore does not ignore {}", missing.join(", ")),
            Evidence {
                expected: Some(format!("ignored: {}", paths.join(", "))),
                actual: Some(text),
                hint: check.hint.clone(),
                ..Evidence::default()
            },
        )
    }
}

pub fn mentions(ctx: &Context<'_>, path: &str, any_of: &[String], check: &Check) -> Verdict {
    let text = match submission::read_text(ctx.submission, path) {
        Ok(t) => t,
        Err(e) => {
            return with_lab_hint(e.to_string(), check);
        }
    };
    let found = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| any_of.iter().find(|want| l.contains(want.as_str())));
    match found {
        Some(what) => Verdict::pass(format!("{path} mentions `{what}`")),
        None => Verdict::fail(
            format!("{path} runs none of the expected commands (commented-out lines do not count)"),
            Evidence {
                expected: Some(format!("a line mentioning one of: {}", any_of.join(", "))),
                hint: check.hint.clone(),
                ..Evidence::default()
            },
        ),
    }
}

pub fn exist(ctx: &Context<'_>, paths: &[String], check: &Check) -> Verdict {
    let missing: Vec<String> = paths
        .iter()
        .filter_map(|p| match submission::entry(ctx.submission, p) {
            Entry::File => None,
            Entry::Missing => Some(format!("{p} (missing)")),
            Entry::Symlink => Some(format!("{p} (a symbolic link, not a file)")),
            Entry::Dir | Entry::Other => Some(format!("{p} (not a regular file)")),
        })
        .collect();
    if missing.is_empty() {
        Verdict::pass(format!("present: {}", paths.join(", ")))
    } else {
        Verdict::fail(
            format!("missing: {}", missing.join(", ")),
            Evidence {
                expected: Some(paths.join("\n")),
                hint: check.hint.clone(),
                ..Evidence::default()
            },
        )
    }
}

pub fn tags(ctx: &Context<'_>, tags: &[String], check: &Check) -> Verdict {
    match submission::git_tags(ctx.submission, tags) {
        None => Verdict::skip("no .git directory in the submission, so tags were not looked at"),
        Some(found) => {
            let missing: Vec<&str> = found
                .iter()
                .filter(|(_, ok)| !ok)
                .map(|(t, _)| t.as_str())
                .collect();
            if missing.is_empty() {
                Verdict::pass(format!("tags present: {}", tags.join(", ")))
            } else {
                with_lab_hint(format!("tags missing: {}", missing.join(", ")), check)
            }
        }
    }
}

/// A failure whose only evidence is the lab's own hint for the check.
fn with_lab_hint(summary: impl Into<String>, check: &Check) -> Verdict {
    Verdict::fail(
        summary,
        Evidence {
            hint: check.hint.clone(),
            ..Evidence::default()
        },
    )
}
