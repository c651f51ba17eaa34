//! Kind `scenario`: a check written as data, a list of steps over named processes (start a
//! program as a role, wait for an event, write to a stdin, send a signal, talk to a socket,
//! expect an exit and output, read a JSON-lines log, look at /proc). Servers, clients and
//! checker tools of a lab meet here, in the spirit of CMU's runtrace traces.
//!
//! Every wait has a deadline and wakes on events (output, exits) or on a short look at /proc;
//! there is no step that sleeps. Student code runs only through `sandbox`, as the role a step
//! names; every process of the check is gone when the check ends.

mod procfacts;
mod run;
mod step;

use lab::{Check, KindCx, Uses};
use serde::Deserialize;
use toml::Spanned;

use crate::checks::{Context, Verdict};
use crate::kind::Kind;

pub use step::{Action, Step};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// The steps, in order (`[[checks.steps]]`).
    steps: Option<Spanned<Vec<Spanned<step::RawStep>>>>,
}

/// The validated steps of one scenario check.
#[derive(Debug)]
pub struct Params {
    pub steps: Vec<Step>,
}

#[derive(Debug)]
pub struct Scenario;

impl Kind for Scenario {
    const NAME: &'static str = "scenario";
    const ABOUT: &'static str = "a list of `steps` over named processes: start (a program or command as a role, copies), wait (stdout_line, stderr_line, handlers, listening, path, exit, threads), write, close, signal, connect, expect (exit, signaled, stdout..., forbid), log (JSON lines), proc (threads, alive, max_cpu_share), stop; see the scenario section below";
    type Raw = Raw;
    type Params = Params;

    fn validate(raw: Raw, cx: &mut KindCx<'_, '_>) -> Option<Params> {
        let Some(list) = raw.steps else {
            cx.missing("steps");
            return None;
        };
        if list.get_ref().is_empty() {
            cx.at(
                list.span(),
                "a scenario needs at least one step",
                "add [[checks.steps]] tables, e.g. `start = \"server\"`",
            );
        }
        let mut steps = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for (n, raw_step) in list.into_inner().into_iter().enumerate() {
            if let Some(s) = step::validate(n + 1, raw_step, &mut names, cx) {
                steps.push(s);
            }
        }
        Some(Params { steps })
    }

    fn uses(p: &Params) -> Uses {
        let mut uses = Uses::default();
        for step in &p.steps {
            if let Action::Start(start) = &step.action {
                if !uses.roles.contains(&start.role) {
                    uses.roles.push(start.role.clone());
                }
                if let Some(program) = &start.program
                    && !uses.programs.contains(program)
                {
                    uses.programs.push(program.clone());
                }
            }
        }
        uses
    }

    fn run(p: &Params, check: &Check, ctx: &Context<'_>) -> Verdict {
        run::run(p, check, ctx)
    }

    fn nested_keys() -> Vec<(&'static str, Vec<&'static str>)> {
        vec![("steps", step_keys())]
    }
}

/// The keys a step may have, for the lab file reference.
pub fn step_keys() -> Vec<&'static str> {
    lab::kind::field_names::<step::RawStep>()
}
