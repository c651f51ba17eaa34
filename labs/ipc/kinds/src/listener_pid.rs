//! Kind `listener-pid`: the program prints `expect_line` with `{pid}` replaced by its own pid,
//! then is ended by `signal` once its handlers are installed. Runs the program as the lab's
//! first role only; never sends a signal before the handlers are there.

use engine::Kind;
use engine::checks::{Context, Verdict};
use lab::{Check, KindCx, Uses};
use nix::sys::signal::Signal;
use serde::Deserialize;
use toml::Spanned;

use crate::listener;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The `[programs]` entry to run.
    program: Option<Spanned<String>>,
    /// The signal that ends it once it is ready.
    signal: Option<Spanned<String>>,
    /// The line to find on stdout; must contain `{pid}`.
    expect_line: Option<Spanned<String>>,
}

#[derive(Debug)]
pub struct Params {
    pub program: String,
    pub signal: Signal,
    pub expect_line: String,
}

#[derive(Debug)]
pub struct ListenerPid;

impl Kind for ListenerPid {
    const NAME: &'static str = "listener-pid";
    const ABOUT: &'static str = "the program prints `expect_line` with {pid} = its own pid, then is ended by `signal` once its handlers are installed";
    type Raw = Raw;
    type Params = Params;

    fn validate(raw: Raw, cx: &mut KindCx<'_, '_>) -> Option<Params> {
        let expect_line = match &raw.expect_line {
            Some(v) => {
                let t = cx.text(v, &["pid"]);
                if !t.contains("{pid}") {
                    cx.at(
                        v.span(),
                        "a listener-pid check's `expect_line` must contain {pid}",
                        "write e.g. \"Listener PID: {pid}\"",
                    );
                }
                t
            }
            None => {
                cx.missing("expect_line");
                String::new()
            }
        };
        let program = listener::program(&raw.program, cx);
        let signal = listener::signal_key(&raw.signal, cx);
        Some(Params {
            program,
            signal,
            expect_line,
        })
    }

    fn uses(p: &Params) -> Uses {
        listener::uses(&p.program)
    }

    fn run(p: &Params, check: &Check, ctx: &Context<'_>) -> Verdict {
        listener::pid(ctx, check, &p.program, p.signal, &p.expect_line)
    }
}
