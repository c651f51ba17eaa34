//! The check kinds a lab file can use. Each takes the grading context and returns a verdict:
//! passed or failed, a one-line summary, and the evidence a student needs. Checks never write to
//! the submission and run student code only through `sandbox`, as the user the context names.

mod build;
pub mod compare;
mod files;
mod limits;
mod listener;
mod pipe;
mod traversal;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::lab::{Check, CheckKind, Lab, Role};
use crate::model::{Evidence, Status};
use crate::sandbox::{Identity, Limits, Spec, Stdin};
use crate::scratch::{Owners, Scratch};

pub use build::BuildSetup;

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
}

impl Context<'_> {
    /// The command line of a lab program with placeholders filled in.
    pub fn program_command(&self, name: &str) -> Vec<String> {
        self.lab
            .programs
            .get(name)
            .map(|cmd| {
                cmd.iter()
                    .map(|a| crate::lab::expand(a, &self.values))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn identity(&self, role: Role) -> Option<&Identity> {
        self.owners.of(role)
    }

    /// A spec for running a lab program in the run directory, as `role`.
    pub fn program_spec(
        &self,
        program: &str,
        role: Role,
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
        let home: PathBuf = match role {
            Role::Owner => self.scratch.home.clone(),
            Role::Confined => PathBuf::from("/nonexistent"),
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

/// A bare program name is looked up on the students' PATH now, so a missing interpreter is a
/// clear message rather than an exec error inside the sandbox.
pub fn resolve_program(name: &str, path: &OsString) -> OsString {
    if name.contains('/') {
        return name.into();
    }
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .map_or_else(|| name.into(), |p| p.into_os_string())
}

/// Runs one check.
pub fn run(check: &Check, ctx: &Context<'_>) -> Verdict {
    with_lab_hint(run_kind(check, ctx), check)
}

fn run_kind(check: &Check, ctx: &Context<'_>) -> Verdict {
    match &check.kind {
        CheckKind::FileContents { path, expect } => files::contents(ctx, path, expect, check),
        CheckKind::Ignores { paths } => files::ignores(ctx, paths, check),
        CheckKind::FileMentions { path, any_of } => files::mentions(ctx, path, any_of, check),
        CheckKind::FilesExist { paths } => files::exist(ctx, paths, check),
        CheckKind::GitTags { tags } => files::tags(ctx, tags, check),
        CheckKind::Build => build::run(ctx, check),
        CheckKind::ListenerPid {
            program,
            signal,
            expect_line,
        } => listener::pid(ctx, check, program, *signal, expect_line),
        CheckKind::Signal {
            program,
            signal,
            expect_line,
            expect_exit,
        } => listener::signal(
            ctx,
            check,
            program,
            *signal,
            expect_line.as_deref(),
            *expect_exit,
        ),
        CheckKind::Idle {
            program,
            window,
            max_cpu_share,
        } => listener::idle(ctx, check, program, *window, *max_cpu_share),
        CheckKind::Pipe {
            program,
            stdin,
            run_as,
            expect_stdout,
            expect_stdout_starts_with,
            forbid,
        } => pipe::run(
            ctx,
            check,
            pipe::PipeCheck {
                program,
                stdin,
                run_as: *run_as,
                expect_stdout: expect_stdout.as_deref(),
                expect_starts_with: expect_stdout_starts_with.as_deref(),
                forbid,
            },
        ),
        CheckKind::Traversal {
            program,
            corpus,
            expect_mode,
            run_as,
            race_runs,
            cases,
        } => traversal::run(
            ctx,
            check,
            traversal::TraversalCheck {
                program,
                corpus,
                expect_mode,
                run_as: *run_as,
                race_runs: *race_runs,
                cases,
            },
        ),
    }
}

/// The hint for a failure: a limit of the sandbox the program ran into (no lab file can know
/// those), else the first matching conditional hint, else the check's own.
fn hint_for(
    check: &Check,
    output: &crate::sandbox::Output,
    ending: Option<crate::sandbox::Ending>,
) -> Option<String> {
    limits::limit_hint(output, ending)
        .or_else(|| compare::pick_hint(&check.hints, output, ending).map(str::to_string))
        .or_else(|| check.hint.clone())
}

/// A hint the grader worked out on its own (a crash, a listener that ended early) names no
/// handout section; the lab's own hint for the check does, so it is added after it.
fn with_lab_hint(mut verdict: Verdict, check: &Check) -> Verdict {
    if verdict.status == Status::Failed
        && let (Some(shown), Some(own)) = (&verdict.evidence.hint, &check.hint)
        && !shown.contains(own.as_str())
        && !check.hints.iter().any(|rule| shown == &rule.hint)
    {
        verdict.evidence.hint = Some(format!("{shown}\n{own}"));
    }
    verdict
}
