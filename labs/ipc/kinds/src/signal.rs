//! Kind `signal`: once the program catches its signals, send `signal`; check the line it prints
//! and/or its exit status. Never signals before the handlers are installed (/proc SigCgt).

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
    /// The signal to send once it is ready.
    signal: Option<Spanned<String>>,
    /// A line it must print after the signal.
    expect_line: Option<Spanned<String>>,
    /// The exit status it must end with (0-255).
    expect_exit: Option<Spanned<i64>>,
}

#[derive(Debug)]
pub struct Params {
    pub program: String,
    pub signal: Signal,
    pub expect_line: Option<String>,
    pub expect_exit: Option<i32>,
}

#[derive(Debug)]
pub struct SignalKind;

impl Kind for SignalKind {
    const NAME: &'static str = "signal";
    const ABOUT: &'static str = "once the program's handlers are installed, send `signal`; check `expect_line` and/or `expect_exit`";
    type Raw = Raw;
    type Params = Params;

    fn validate(raw: Raw, cx: &mut KindCx<'_, '_>) -> Option<Params> {
        let expect_exit =
            raw.expect_exit
                .as_ref()
                .and_then(|v| match i32::try_from(*v.get_ref()) {
                    Ok(code) if (0..=255).contains(&code) => Some(code),
                    _ => {
                        cx.at(
                            v.span(),
                            format!("exit status {} is out of range", v.get_ref()),
                            "an exit status is a number from 0 to 255",
                        );
                        None
                    }
                });
        let expect_line = raw.expect_line.as_ref().map(|v| cx.text(v, &[]));
        if expect_line.is_none() && raw.expect_exit.is_none() {
            cx.here(
                "a `signal` check needs `expect_line`, `expect_exit` or both",
                "say what the program must print or how it must exit",
            );
        }
        let program = listener::program(&raw.program, cx);
        let signal = listener::signal_key(&raw.signal, cx);
        Some(Params {
            program,
            signal,
            expect_line,
            expect_exit,
        })
    }

    fn uses(p: &Params) -> Uses {
        listener::uses(&p.program)
    }

    fn run(p: &Params, check: &Check, ctx: &Context<'_>) -> Verdict {
        listener::signal(
            ctx,
            check,
            &p.program,
            p.signal,
            p.expect_line.as_deref(),
            p.expect_exit,
        )
    }
}
