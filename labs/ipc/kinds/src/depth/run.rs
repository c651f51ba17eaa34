//! Running a program on corpus cases and naming each outcome: which file reached its output, or
//! its MEOW reason, or that it hung. Every run goes through `sandbox`, as the user the caller's
//! spec names; this module never judges a program by anything but what it printed and how it
//! ended.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::corpus::{Case, Corpus, Expectation, FileKind, Outcome};
use super::layout::Layout;
use super::swap::Swapper;
use engine::checks::compare::{lossy, normalise};
use sandbox::{self, Ending, Spec};

/// What one run showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub outcome: Outcome,
    /// The MEOW reason, the file that escaped, or what the stray output was.
    pub detail: String,
}

/// What many runs of one case showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub runs: usize,
    pub counts: BTreeMap<Outcome, usize>,
    /// The first detail seen for each outcome.
    pub details: BTreeMap<Outcome, String>,
    /// Why the runs stopped early (the program could not start, the swapper failed).
    pub error: Option<String>,
    pub elapsed: Duration,
}

impl Tally {
    /// Every run ended in an outcome `expected` allows, and nothing went wrong around them.
    pub fn fits(&self, expected: &Expectation) -> bool {
        self.error.is_none() && self.runs > 0 && self.counts.keys().all(|&o| expected.allows(o))
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.counts.get(&outcome).copied().unwrap_or(0)
    }

    fn add(&mut self, seen: Observation) {
        self.runs += 1;
        *self.counts.entry(seen.outcome).or_insert(0) += 1;
        self.details.entry(seen.outcome).or_insert(seen.detail);
    }

    /// One line saying what happened, for reports: `escapes 3/200 (printed secret.txt), ...`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .counts
            .iter()
            .map(|(outcome, n)| {
                let count = if self.runs > 1 {
                    format!(" {n}/{}", self.runs)
                } else {
                    String::new()
                };
                let detail = self
                    .details
                    .get(outcome)
                    .filter(|d| !d.is_empty())
                    .map_or(String::new(), |d| format!(" ({d})"));
                format!("{}{count}{detail}", outcome.word())
            })
            .collect();
        if let Some(error) = &self.error {
            parts.push(format!("stopped: {error}"));
        }
        parts.join(", ")
    }
}

/// Builds the spec of one run from the bytes to send on stdin.
pub type Starter<'a> = dyn Fn(Vec<u8>) -> Spec + Sync + 'a;

/// Names what one finished run did with `case`.
pub fn classify(
    finished: &sandbox::Outcome,
    corpus: &Corpus,
    layout: &Layout,
    case: &Case,
) -> Observation {
    let stdout = lossy(&finished.output.stdout);
    let stderr = lossy(&finished.output.stderr);
    // An escape counts whatever else happened: a secret on stderr, or before a MEOW, is out.
    for file in corpus.files.iter().filter(|f| !f.inside()) {
        if let Some(content) = layout.content_of(&file.id)
            && (stdout.contains(content) || stderr.contains(content))
        {
            return Observation {
                outcome: Outcome::Escapes,
                detail: format!("printed {}", file.path),
            };
        }
    }
    if finished.ending == Ending::TimedOut {
        return Observation {
            outcome: Outcome::Hangs,
            detail: finished
                .at_deadline
                .as_ref()
                .map_or_else(String::new, |activity| activity.describe()),
        };
    }
    let text = normalise(&stdout);
    if let Some(shown) = case.shows.as_deref().and_then(|id| layout.content_of(id))
        && text == normalise(shown)
        && matches!(finished.ending, Ending::Exited(_))
    {
        return Observation {
            outcome: Outcome::Prints,
            detail: String::new(),
        };
    }
    if let Some(rest) = text.strip_prefix("MEOW")
        && !text.contains('\n')
        && matches!(finished.ending, Ending::Exited(_))
    {
        return Observation {
            outcome: Outcome::Meow,
            detail: meow_reason(rest),
        };
    }
    Observation {
        outcome: Outcome::Other,
        detail: stray(finished, &stdout, corpus, layout),
    }
}

/// The reason part of `MEOW <reason>: <path>`, without an `(os error N)` suffix.
pub(super) fn meow_reason(rest: &str) -> String {
    let rest = rest.trim_start();
    let reason = rest.split_once(": ").map_or(rest, |(reason, _)| reason);
    match reason.rfind(" (os error ") {
        Some(at) if reason.ends_with(')') => reason[..at].to_string(),
        _ => reason.to_string(),
    }
}

fn stray(finished: &sandbox::Outcome, stdout: &str, corpus: &Corpus, layout: &Layout) -> String {
    if let Ending::Signaled(signal) = finished.ending {
        return format!("crashed: killed by {}", signal.as_str());
    }
    let text = normalise(stdout);
    if let Some(file) = corpus.files.iter().find(|f| {
        f.inside()
            && layout
                .content_of(&f.id)
                .is_some_and(|c| text == normalise(c))
    }) {
        return format!("printed the wrong file, {}", file.path);
    }
    if text.is_empty() {
        return "printed nothing".to_string();
    }
    let excerpt: String = text.chars().take(60).collect();
    let more = if text.chars().count() > 60 { "..." } else { "" };
    format!("printed {:?}{more}", excerpt)
}

/// Runs `case` `runs` times (once unless it is a race) and tallies the outcomes. A race's
/// swapping must already be going (see [`start_swappers`]).
pub fn run_case(
    case: &Case,
    corpus: &Corpus,
    layout: &Layout,
    runs: usize,
    start: &Starter<'_>,
) -> Tally {
    let began = Instant::now();
    let stdin = case.stdin(&layout.values);
    let mut tally = Tally::default();
    for _ in 0..runs.max(1) {
        match sandbox::run(start(stdin.clone())) {
            Ok(finished) => tally.add(classify(&finished, corpus, layout, case)),
            Err(e) => {
                tally.error = Some(e.to_string());
                break;
            }
        }
    }
    tally.elapsed = began.elapsed();
    tally
}

/// Starts the swapper of every race among `cases`, one per swapping link.
pub fn start_swappers<'c>(
    cases: impl IntoIterator<Item = &'c Case>,
    corpus: &Corpus,
    layout: &Layout,
) -> Vec<Swapper> {
    let mut links: Vec<&str> = cases
        .into_iter()
        .filter_map(|c| c.swap.as_deref())
        .collect();
    links.sort_unstable();
    links.dedup();
    links
        .into_iter()
        .filter_map(|id| {
            let file = corpus.file(id)?;
            let FileKind::Link {
                target,
                swap_with: Some(other),
            } = &file.kind
            else {
                return None;
            };
            let path = layout.path_of(id)?;
            Some(Swapper::start(
                path,
                [layout.expand(target), layout.expand(other)],
            ))
        })
        .collect()
}

/// Stops swappers; the first failure, if any, is returned (a race whose link stopped swapping
/// proves nothing).
pub fn stop_swappers(swappers: Vec<Swapper>) -> Result<u64, String> {
    let mut total = 0;
    let mut failure = None;
    for swapper in swappers {
        match swapper.stop() {
            Ok(n) => total += n,
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    failure.map_or(Ok(total), Err)
}

/// Runs `jobs` on up to `workers` threads and returns their results in order. Each job runs
/// whole on one thread, as the sandbox requires.
pub fn in_parallel<J: Sync, R: Send>(
    jobs: &[J],
    workers: usize,
    run: &(dyn Fn(&J) -> R + Sync),
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(jobs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let result = run(job);
                    if let Ok(mut slots) = results.lock() {
                        slots[i] = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}
