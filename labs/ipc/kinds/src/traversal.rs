//! Part 2b's check: a student's program runs on every case of the traversal corpus, in a fresh
//! directory with freshly randomised names, and each case must end the way the corpus says for
//! one mode (`beneath` for the fix). Race cases run many times while a link is swapped. The
//! program is judged only by what it prints and how it ends, never by its code.

use crate::depth::run::{self, Tally};
use crate::depth::{Case, Corpus, Expectation, Layout};
use engine::Kind;
use lab::{Check, KindCx, Uses};
use report::model::Evidence;
use sandbox::Stdin;
use serde::Deserialize;
use toml::Spanned;

use engine::checks::{Context, Verdict};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The `[programs]` entry (the cat) to run.
    program: Option<Spanned<String>>,
    /// The corpus file, relative to the lab file (`traversal.toml` is also built in).
    corpus: Option<Spanned<String>>,
    /// The corpus mode whose expectations apply, e.g. "beneath".
    expect_mode: Option<Spanned<String>>,
    /// The role it runs as (default: the lab's first role).
    run_as: Option<Spanned<String>>,
    /// How often each race case runs (0 leaves races out; default 100).
    race_runs: Option<Spanned<i64>>,
    /// Only these case ids (default: every case).
    cases: Option<Spanned<Vec<String>>>,
}

#[derive(Debug)]
pub struct TraversalCheck {
    pub program: String,
    pub corpus: String,
    pub expect_mode: String,
    pub run_as: String,
    pub race_runs: usize,
    pub cases: Vec<String>,
}

/// Kind `traversal`: the program on every case of a traversal corpus (Part 2b), with the
/// outcomes the corpus lists for `expect_mode`; race cases run `race_runs` times.
#[derive(Debug)]
pub struct Traversal;

impl Kind for Traversal {
    const NAME: &'static str = "traversal";
    const ABOUT: &'static str = "runs the program on every case of a traversal corpus and requires the outcomes the corpus lists for `expect_mode`; race cases run `race_runs` times";
    type Raw = Raw;
    type Params = TraversalCheck;

    fn validate(raw: Raw, cx: &mut KindCx<'_, '_>) -> Option<TraversalCheck> {
        let run_as = cx.role(raw.run_as.as_ref());
        let corpus = match &raw.corpus {
            Some(v) if lab::inside_path(v.get_ref()) => v.get_ref().clone(),
            Some(v) => {
                cx.at(
                    v.span(),
                    format!(
                        "corpus `{}` must be a path next to the lab file",
                        v.get_ref()
                    ),
                    "write a relative path without `..`, e.g. \"traversal.toml\"",
                );
                v.get_ref().clone()
            }
            None => {
                cx.missing("corpus");
                String::new()
            }
        };
        let expect_mode = match &raw.expect_mode {
            Some(v) if !v.get_ref().trim().is_empty() => v.get_ref().clone(),
            Some(v) => {
                cx.at(
                    v.span(),
                    "`expect_mode` is empty",
                    "name the corpus mode whose expectations apply, e.g. \"beneath\"",
                );
                String::new()
            }
            None => {
                cx.missing("expect_mode");
                String::new()
            }
        };
        let race_runs = match &raw.race_runs {
            None => 100,
            Some(v) => usize::try_from(*v.get_ref())
                .ok()
                .filter(|n| *n <= 100_000)
                .unwrap_or_else(|| {
                    cx.at(
                        v.span(),
                        format!("race_runs {} is out of range", v.get_ref()),
                        "write 0 (leave race cases out) up to 100000",
                    );
                    0
                }),
        };
        let cases = match &raw.cases {
            None => Vec::new(),
            Some(list) => cx.non_empty(list, "cases"),
        };
        let program = match &raw.program {
            Some(v) => cx.program(v),
            None => {
                cx.missing("program");
                String::new()
            }
        };
        Some(TraversalCheck {
            program,
            corpus,
            expect_mode,
            run_as,
            race_runs,
            cases,
        })
    }

    fn uses(t: &TraversalCheck) -> Uses {
        Uses {
            programs: vec![t.program.clone()],
            roles: vec![t.run_as.clone()],
            is_build: false,
        }
    }

    fn run(t: &TraversalCheck, check: &Check, ctx: &Context<'_>) -> Verdict {
        run(ctx, check, t)
    }
}

/// A mistake in the lab's own setup: the check cannot say anything about the student.
fn lab_problem(summary: String) -> Verdict {
    Verdict::fail(
        summary,
        Evidence {
            hint: Some(
                "This is a problem of the lab file or its corpus, not of the submission: tell the course staff.".into(),
            ),
            ..Evidence::default()
        },
    )
}

pub fn run(ctx: &Context<'_>, check: &Check, t: &TraversalCheck) -> Verdict {
    let confined = !ctx.is_primary(&t.run_as);
    if confined && ctx.identity(&t.run_as).is_none() {
        return Verdict::skip(
            "needs root: the grader must run the program as the sandbox user. Run it in Docker: docker/grade.sh (or the docker run line in README.md)",
        );
    }
    let corpus = match Corpus::for_lab(ctx.lab, &t.corpus) {
        Ok(corpus) => corpus,
        Err(e) => return lab_problem(e.to_string()),
    };
    if !corpus.modes.iter().any(|m| m == &t.expect_mode) {
        return lab_problem(format!(
            "the corpus {} has no mode `{}` (it has: {})",
            corpus.source,
            t.expect_mode,
            corpus.modes.join(", ")
        ));
    }
    if let Some(unknown) = t.cases.iter().find(|id| corpus.case(id).is_none()) {
        return lab_problem(format!(
            "the corpus {} has no case `{unknown}`",
            corpus.source
        ));
    }
    let selected: Vec<(&Case, Expectation)> = corpus
        .cases
        .iter()
        .filter(|c| t.cases.is_empty() || t.cases.contains(&c.id))
        .filter(|c| t.race_runs > 0 || !c.is_race())
        .filter_map(|c| Some((c, c.expectation(&t.expect_mode, confined)?)))
        .collect();
    if selected.is_empty() {
        return lab_problem("no corpus case is selected (check `cases` and `race_runs`)".into());
    }
    let layout = match Layout::create(&ctx.scratch.root, &corpus, ctx.owners) {
        Ok(layout) => layout,
        Err(e) => return lab_problem(format!("cannot lay the corpus out: {e}")),
    };
    let start = |stdin: Vec<u8>| {
        let mut spec = ctx.program_spec(&t.program, &t.run_as, Stdin::Bytes(stdin), check.timeout);
        spec.cwd = layout.run.clone();
        spec
    };
    let mut results: Vec<(&Case, Expectation, Tally)> = Vec::with_capacity(selected.len());
    for (case, expected) in selected {
        let tally = if case.is_race() {
            let swappers = run::start_swappers([case], &corpus, &layout);
            let mut tally = run::run_case(case, &corpus, &layout, t.race_runs, &start);
            if let Err(e) = run::stop_swappers(swappers) {
                tally.error = Some(e);
            }
            tally
        } else {
            run::run_case(case, &corpus, &layout, 1, &start)
        };
        results.push((case, expected, tally));
    }
    let verdict = judge(ctx, t, &layout, &results);
    let _ = layout.remove();
    verdict
}

fn judge(
    ctx: &Context<'_>,
    t: &TraversalCheck,
    layout: &Layout,
    results: &[(&Case, Expectation, Tally)],
) -> Verdict {
    let who = match ctx.identity(&t.run_as) {
        Some(id) if ctx.is_primary(&t.run_as) => format!(" (as {}, the files' owner)", id.name),
        Some(id) => format!(" (as {})", id.name),
        None => String::new(),
    };
    let races: Vec<String> = results
        .iter()
        .filter(|(case, ..)| case.is_race())
        .map(|(case, _, tally)| format!("the race `{}` ran {} times", case.id, tally.runs))
        .collect();
    let failed: Vec<&(&Case, Expectation, Tally)> = results
        .iter()
        .filter(|(_, expected, tally)| !tally.fits(expected))
        .collect();
    if failed.is_empty() {
        let race = if races.is_empty() {
            String::new()
        } else {
            format!("; {}", races.join(", "))
        };
        return Verdict::pass(match results {
            [(case, ..)] => format!(
                "`{}` behaved as `{}` must{who}{race}",
                case.id, t.expect_mode
            ),
            _ => format!(
                "all {} corpus inputs behaved as `{}` must{who}{race}",
                results.len(),
                t.expect_mode
            ),
        });
    }
    let ids: Vec<&str> = failed.iter().map(|(case, ..)| case.id.as_str()).collect();
    let lines = |f: &dyn Fn(&Case, &Expectation, &Tally) -> String| -> String {
        failed
            .iter()
            .map(|(case, expected, tally)| format!("{}: {}", case.id, f(case, expected, tally)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut hints: Vec<&str> = Vec::new();
    for (case, ..) in &failed {
        if let Some(hint) = case.hint.as_deref()
            && !hints.contains(&hint)
        {
            hints.push(hint);
        }
    }
    let token = layout.values.get("rand").map_or("", String::as_str);
    Verdict::fail(
        format!(
            "{} of {} corpus inputs did not behave as `{}` must{who}: {}",
            failed.len(),
            results.len(),
            t.expect_mode,
            ids.join(", ")
        ),
        Evidence {
            input: Some(format!(
                "{}\n(names are random every run; this run's token was {token})",
                lines(&|case, _, _| format!(
                    "{} | {}",
                    shown_stdin(&case.stdin(&layout.values)),
                    t.program
                ))
            )),
            expected: Some(lines(&|_, expected, _| expected.to_string())),
            actual: Some(lines(&|_, _, tally| tally.describe())),
            hint: if hints.is_empty() {
                None
            } else {
                Some(hints.join("\n"))
            },
            log: None,
        },
    )
}

/// Stdin bytes as the shell command that sends them: `echo` when they end in one newline,
/// `printf` otherwise; one line, at most 80 characters of the name.
fn shown_stdin(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let (command, name) = match text.strip_suffix('\n') {
        Some(name) => ("echo", name),
        None => ("printf %s", text.as_ref()),
    };
    let short: String = name.chars().take(80).collect();
    if short.len() < name.len() {
        format!("{command} {short:?}... ({} bytes)", bytes.len())
    } else {
        format!("{command} {short:?}")
    }
}
