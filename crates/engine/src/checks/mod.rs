//! The engine's own check kinds (none tied to a lab) and what every kind may use: the grading
//! context, verdicts, program specs, hints. Each kind takes the context and returns a verdict:
//! passed or failed, a one-line summary, and the evidence a student needs. Kinds never write to
//! the submission and run student code only through `sandbox`, as the role the check names.

pub mod build;
pub mod compare;
mod file_contents;
mod file_mentions;
mod files;
mod files_exist;
mod git_tags;
mod ignores;
pub mod limits;
pub mod pipe;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::scratch::{Owners, Scratch};
use lab::{Check, Lab};
use report::model::{Evidence, Status};
use sandbox::{Identity, Limits, Spec, Stdin};

pub use build::BuildSetup;

use crate::kind::Registry;

/// Registers the engine's own kinds.
pub fn register(r: &mut Registry) {
    r.add::<file_contents::FileContents>()
        .add::<ignores::Ignores>()
        .add::<file_mentions::FileMentions>()
        .add::<files_exist::FilesExist>()
        .add::<git_tags::GitTags>()
        .add::<build::BuildKind>()
        .add::<pipe::Pipe>()
        .add::<crate::scenario::Scenario>();
}

/// What a check found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: Status,
    pub summary: String,
    pub evidence: Evidence,
}

impl Verdict {
    pub fn pass(summary: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::Passed,
            summary: summary.into(),
            evidence: Evidence::default(),
        }
    }

    pub fn fail(summary: impl Into<String>, evidence: Evidence) -> Verdict {
        Verdict {
            status: Status::Failed,
            summary: summary.into(),
            evidence,
        }
    }

    pub fn skip(summary: impl Into<String>) -> Verdict {
        Verdict {
            status: Status::Skipped,
            summary: summary.into(),
            evidence: Evidence::default(),
        }
    }
}

/// Everything a check may use.
#[derive(Debug)]
pub struct Context<'a> {
    pub lab: &'a Lab,
    /// The student's directory: read only, never through links.
    pub submission: &'a Path,
    pub scratch: &'a Scratch,
    pub owners: &'a Owners,
    pub build: &'a BuildSetup,
    /// Placeholder values: fixture contents of this run, `build`, `target`.
    pub values: BTreeMap<String, String>,
    /// PATH given to student processes.
    pub tool_path: OsString,
    pub isolate_network: bool,
    /// The build directory already holds what the lab's build command made of exactly these
    /// bytes in an earlier run (see `made`): the build check does not run it again.
    pub build_reused: bool,
    /// The kinds, to run a check with.
    pub registry: &'a Registry,
}

impl Context<'_> {
    /// The command line of a lab program with placeholders filled in.
    pub fn program_command(&self, name: &str) -> Vec<String> {
        self.lab
            .programs
            .get(name)
            .map(|cmd| cmd.iter().map(|a| lab::expand(a, &self.values)).collect())
            .unwrap_or_default()
    }

    pub fn identity(&self, role: &str) -> Option<&Identity> {
        self.owners.of(role)
    }

    /// Whether `role` is the lab's first role (the files' owner, whom the build runs as).
    pub fn is_primary(&self, role: &str) -> bool {
        self.lab.primary_role().is_none_or(|r| r.id == role)
    }

    /// A spec for running a lab program in the run directory, as `role`.
    pub fn program_spec(
        &self,
        program: &str,
        role: &str,
        stdin: Stdin,
        deadline: Duration,
    ) -> Spec {
        let command = self.program_command(program);
        let (head, args) = command
            .split_first()
            .map_or((String::new(), Vec::new()), |(h, a)| {
                (h.clone(), a.to_vec())
            });
        let identity = self.identity(role).cloned();
        let home: PathBuf = if self.is_primary(role) {
            self.scratch.home.clone()
        } else {
            PathBuf::from("/nonexistent")
        };
        Spec {
            program: resolve_program(&head, &self.tool_path),
            args: args.into_iter().map(OsString::from).collect(),
            cwd: self.scratch.run.clone(),
            env: vec![
                ("PATH".into(), self.tool_path.clone()),
                ("HOME".into(), home.into()),
                ("LANG".into(), "C.UTF-8".into()),
                ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
            ],
            stdin,
            limits: program_limits(identity.is_some()),
            identity,
            deadline,
            output_cap: self.lab.defaults.output_cap,
            isolate_network: self.isolate_network,
            ready_fd: None,
        }
    }
}

/// Limits for one run of a lab program: generous for a correct one, tight for a runaway.
pub fn program_limits(dedicated_user: bool) -> Limits {
    Limits {
        cpu_seconds: 10,
        address_space: Some(1 << 30),
        file_size: 16 << 20,
        // RLIMIT_NPROC counts every process of the real user: only meaningful for the lab's own
        // dedicated users, and harmful for a developer's account with a desktop session.
        processes: if dedicated_user { 64 } else { u64::MAX },
        open_files: 256,
    }
}

pub use sandbox::resolve_program;

/// Runs one check with its kind.
pub fn run(check: &Check, ctx: &Context<'_>) -> Verdict {
    with_lab_hint(ctx.registry.run(check, ctx), check)
}

/// The hint for a failure: a limit of the sandbox the program ran into (no lab file can know
/// those), else the first matching conditional hint, else the check's own.
pub fn hint_for(
    check: &Check,
    output: &sandbox::Output,
    ending: Option<sandbox::Ending>,
) -> Option<String> {
    limits::limit_hint(output, ending)
        .or_else(|| compare::pick_hint(&check.hints, output, ending).map(str::to_string))
        .or_else(|| check.hint.clone())
}

/// A hint the grader worked out on its own (a crash, a listener that ended early) names no
/// handout section; the lab's own hint for the check does, so it is added after it.
pub fn with_lab_hint(mut verdict: Verdict, check: &Check) -> Verdict {
    if verdict.status == Status::Failed
        && let (Some(shown), Some(own)) = (&verdict.evidence.hint, &check.hint)
        && !shown.contains(own.as_str())
        && !check.hints.iter().any(|rule| shown == &rule.hint)
    {
        verdict.evidence.hint = Some(format!("{shown}\n{own}"));
    }
    verdict
}
