//! Kind `idle`: once ready, the program uses at most `max_cpu_share` of a CPU over a window.
//! The window is drawn per run: it starts within `window` of readiness and lasts one to two
//! `window`s, and it counts every process of the run. The trade-off: a listener that naps longer
//! than two `window`s after installing its handlers and only then spins is not caught; a longer
//! window would catch more of those, and every student's grading would wait for it.
//! Measures from /proc only; never signals before the handlers are installed.

use std::time::Duration;

use engine::Kind;
use engine::checks::{Context, Verdict};
use lab::{Check, KindCx, Uses};
use serde::Deserialize;
use toml::Spanned;

use crate::listener;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The `[programs]` entry to run.
    program: Option<Spanned<String>>,
    /// The unit of the drawn window: it starts within this long of readiness and lasts one to
    /// two of it (default 300ms).
    window: Option<Spanned<String>>,
    /// The largest share of one CPU it may use meanwhile, above 0 and at most 1 (default 0.2).
    max_cpu_share: Option<Spanned<f64>>,
}

#[derive(Debug)]
pub struct Params {
    pub program: String,
    pub window: Duration,
    pub max_cpu_share: f64,
}

#[derive(Debug)]
pub struct Idle;

impl Kind for Idle {
    const NAME: &'static str = "idle";
    const ABOUT: &'static str = "once ready, the program and every process it started use at most `max_cpu_share` of a CPU over a window drawn per run (starting within `window` of readiness, lasting one to two `window`s)";
    type Raw = Raw;
    type Params = Params;

    fn validate(raw: Raw, cx: &mut KindCx<'_, '_>) -> Option<Params> {
        let window = raw
            .window
            .as_ref()
            .and_then(|w| cx.duration(w))
            .unwrap_or(Duration::from_millis(300));
        let max_cpu_share = match &raw.max_cpu_share {
            Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 1.0 => *v.get_ref(),
            Some(v) => {
                cx.at(
                    v.span(),
                    format!("max_cpu_share {} is not a share of one CPU", v.get_ref()),
                    "write a number above 0 and at most 1, e.g. 0.2",
                );
                0.2
            }
            None => 0.2,
        };
        let program = listener::program(&raw.program, cx);
        Some(Params {
            program,
            window,
            max_cpu_share,
        })
    }

    fn uses(p: &Params) -> Uses {
        listener::uses(&p.program)
    }

    fn run(p: &Params, check: &Check, ctx: &Context<'_>) -> Verdict {
        listener::idle(ctx, check, &p.program, p.window, p.max_cpu_share)
    }
}
