//! The build check: compiles a private copy of the submission as the owner user, offline, with
//! the build cache kept outside the submission. A failure shows the compiler's own error lines,
//! and a crate the offline set lacks is named instead of leaving the student with resolver noise.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use lab::{Check, KindCx, Uses};
use report::model::Evidence;
use sandbox::{Ending, Limits, Spec, Stdin};
use serde::Deserialize;

use super::compare::lossy;
use super::{Context, Verdict};
use crate::kind::Kind;

/// Kind `build`: the lab's `[build]` command succeeds. Takes no keys of its own.
#[derive(Debug)]
pub struct BuildKind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {}

impl Kind for BuildKind {
    const NAME: &'static str = "build";
    const ABOUT: &'static str = "the lab's [build] command succeeds, run as the first role, offline, with the build cache outside the submission";
    type Raw = Raw;
    type Params = ();

    fn validate(_: Raw, cx: &mut KindCx<'_, '_>) -> Option<()> {
        if cx.build.is_none() {
            cx.here(
                "a `build` check needs a [build] table",
                "add [build] with the command that builds the submission",
            );
        }
        Some(())
    }

    fn uses(_: &()) -> Uses {
        Uses {
            is_build: true,
            ..Uses::default()
        }
    }

    fn run(_: &(), check: &Check, ctx: &Context<'_>) -> Verdict {
        run(ctx, check)
    }
}

/// How builds are set up for this grading run (decided once, before any check).
#[derive(Debug, Clone, Default)]
pub struct BuildSetup {
    /// CARGO_TARGET_DIR, outside the submission and the scratch tree so a regrade reuses it.
    pub target_dir: Option<PathBuf>,
    /// Where the submission is copied and built: a stable path next to the target directory,
    /// because cargo's fingerprints include the source path.
    pub build_dir: Option<PathBuf>,
    /// A `cargo vendor` directory the build uses instead of the network.
    pub vendor: Option<PathBuf>,
    /// CARGO_HOME for the build: private per run when root, the user's own otherwise.
    pub cargo_home: Option<PathBuf>,
    /// Variables passed through to builds, e.g. RUSTUP_HOME for rustup's proxies.
    pub passthrough: Vec<(OsString, OsString)>,
}

/// Lines of build output kept in a report.
const LOG_LINES: usize = 40;

pub fn run(ctx: &Context<'_>, check: &Check) -> Verdict {
    let Some(build) = &ctx.lab.build else {
        return Verdict::skip("the lab has no [build] table");
    };
    let mut command = build.command.clone();
    if build.cargo
        && let Some(vendor) = &ctx.build.vendor
        && command.first().is_some_and(|c| c == "cargo")
    {
        // Command-line config wins over any .cargo/config.toml the submission carries.
        let extra = [
            "--config".to_string(),
            "source.crates-io.replace-with=\"ipc-lab-offline\"".to_string(),
            "--config".to_string(),
            format!(
                "source.ipc-lab-offline.directory={:?}",
                vendor.display().to_string()
            ),
        ];
        command.splice(1..1, extra);
    }
    if build.cargo && ctx.build.vendor.is_none() && ctx.isolate_network {
        // No offline crate set: download the crates first (cargo fetch runs no student code),
        // then build with the network cut off.
        let fetch = vec!["cargo".to_string(), "fetch".to_string()];
        match run_build_command(ctx, &fetch, true, check.timeout, true) {
            Ok(o) if o.ending == Ending::Exited(0) => {}
            Ok(o) => {
                let log = error_excerpt(&lossy(&o.output.stderr), &lossy(&o.output.stdout));
                return Verdict::fail(
                    format!(
                        "`cargo fetch` failed: it {}",
                        super::compare::describe_ending(o.ending)
                    ),
                    Evidence {
                        input: Some("cargo fetch".into()),
                        hint: check.hint.clone(),
                        log: Some(log),
                        ..Evidence::default()
                    },
                );
            }
            Err(e) => {
                return Verdict::fail(
                    format!("`cargo fetch` could not start: {e}"),
                    Evidence::default(),
                );
            }
        }
    }
    if ctx.build_reused {
        // The build directory is the output of a build of these very bytes that passed (made by
        // this command, copied before any student program ran): running it again would only
        // redo the same work.
        return match missing_programs(ctx) {
            Some(verdict) => verdict,
            None => Verdict::pass(format!(
                "`{}` succeeded (an earlier build of exactly these files was reused)",
                build.command.join(" ")
            )),
        };
    }
    let outcome = match run_build_command(ctx, &command, build.cargo, check.timeout, false) {
        Ok(o) => o,
        Err(e) => {
            return Verdict::fail(
                format!("the build could not start: {e}"),
                Evidence {
                    hint: check.hint.clone(),
                    ..Evidence::default()
                },
            );
        }
    };
    let stderr = lossy(&outcome.output.stderr);
    let stdout = lossy(&outcome.output.stdout);
    let shown_command = build.command.join(" ");
    match outcome.ending {
        Ending::Exited(0) => {}
        ending => {
            let log = error_excerpt(&stderr, &stdout);
            let hint = missing_crate(&stderr)
                .map(|krate| offline_crate_hint(&krate, ctx.build.vendor.as_deref()))
                .or_else(|| {
                    missing_bin(&stderr).map(|bin| {
                        format!(
                            "Cargo found no binary named `{bin}`, and the grader runs `{shown_command}`. Keep the package and binary names of the starter: a `[[bin]]` section with another name, or a renamed package, changes them."
                        )
                    })
                })
                .or_else(|| super::limits::limit_hint(&outcome.output, Some(ending)))
                .or_else(|| check.hint.clone());
            let summary = match ending {
                Ending::TimedOut => format!(
                    "`{shown_command}` did not finish within {} s{}",
                    check.timeout.as_secs(),
                    super::limits::at_deadline(&outcome)
                ),
                other => format!(
                    "`{shown_command}` failed: it {}",
                    super::compare::describe_ending(other)
                ),
            };
            return Verdict::fail(
                summary,
                Evidence {
                    input: Some(shown_command),
                    hint,
                    log: Some(log),
                    ..Evidence::default()
                },
            );
        }
    }
    match missing_programs(ctx) {
        Some(verdict) => verdict,
        None => Verdict::pass(format!("`{shown_command}` succeeded")),
    }
}

/// A build that succeeds but produces no program the lab runs is still a failed build.
fn missing_programs(ctx: &Context<'_>) -> Option<Verdict> {
    let shown_command = ctx.lab.build.as_ref()?.command.join(" ");
    let missing: Vec<String> = ctx
        .lab
        .programs
        .keys()
        .flat_map(|name| ctx.program_command(name))
        .filter(|arg| arg.starts_with('/') && !Path::new(arg).exists())
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|m| display_path(ctx, m)).collect();
        return Some(Verdict::fail(
            format!(
                "the build succeeded but did not produce {}",
                names.join(", ")
            ),
            Evidence {
                input: Some(shown_command),
                expected: Some(names.join("\n")),
                hint: Some(format!(
                    "The grader runs {}. Check the package and binary names in your Cargo.toml (or Makefile): they must match the lab's.",
                    names.join(" and ")
                )),
                ..Evidence::default()
            },
        ));
    }
    None
}

/// Runs a build-phase command as the owner in the build copy.
pub fn run_build_command(
    ctx: &Context<'_>,
    command: &[String],
    cargo: bool,
    deadline: std::time::Duration,
    network: bool,
) -> Result<sandbox::Outcome, sandbox::SandboxError> {
    let (head, args) = command
        .split_first()
        .map_or((String::new(), Vec::new()), |(h, a)| {
            (h.clone(), a.to_vec())
        });
    let identity = ctx.owners.owner.clone();
    let mut env: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), ctx.tool_path.clone()),
        ("HOME".into(), ctx.scratch.home.clone().into()),
        ("LANG".into(), "C.UTF-8".into()),
        ("TERM".into(), "dumb".into()),
    ];
    if cargo {
        env.push(("CARGO_TERM_COLOR".into(), "never".into()));
        if let Some(target) = &ctx.build.target_dir {
            env.push(("CARGO_TARGET_DIR".into(), target.clone().into()));
        }
        if let Some(home) = &ctx.build.cargo_home {
            env.push(("CARGO_HOME".into(), home.clone().into()));
        }
        env.extend(ctx.build.passthrough.iter().cloned());
    }
    let dedicated = identity.is_some();
    let spec = Spec {
        program: super::resolve_program(&head, &ctx.tool_path),
        args: args.into_iter().map(OsString::from).collect(),
        cwd: ctx.scratch.build.clone(),
        env,
        stdin: Stdin::Null,
        identity,
        limits: Limits {
            cpu_seconds: 1800,
            address_space: None,
            file_size: 2 << 30,
            processes: if dedicated { 512 } else { u64::MAX },
            open_files: 4096,
        },
        deadline,
        output_cap: 1 << 20,
        isolate_network: ctx.isolate_network && !network,
        ready_fd: None,
    };
    sandbox::run(spec)
}

fn display_path(ctx: &Context<'_>, path: &str) -> String {
    let mut shown = path.to_string();
    if let Some(target) = &ctx.build.target_dir {
        shown = shown.replace(&target.display().to_string(), "target");
    }
    shown.replace(&format!("{}/", ctx.scratch.build.display()), "")
}

/// The compiler's own error lines: from the first line mentioning an error, at most LOG_LINES;
/// without one, the end of the output.
pub fn error_excerpt(stderr: &str, stdout: &str) -> String {
    let all: Vec<&str> = stderr.lines().chain(stdout.lines()).collect();
    let start = all
        .iter()
        .position(|l| l.to_ascii_lowercase().contains("error"));
    let lines: Vec<&str> = match start {
        Some(i) => all[i..].iter().take(LOG_LINES).copied().collect(),
        None => all[all.len().saturating_sub(LOG_LINES)..].to_vec(),
    };
    lines.join("\n")
}

/// The crate cargo could not find offline, from its resolver message.
pub fn missing_crate(stderr: &str) -> Option<String> {
    // Cargo up to 1.8x says "no matching package named `x` found"; later versions say "no
    // matching package found" and name it on a line of its own.
    ["no matching package named `", "searched package name: `"]
        .iter()
        .find_map(|marker| {
            let start = stderr.find(marker)? + marker.len();
            let end = stderr[start..].find('`')?;
            Some(stderr[start..start + end].to_string())
        })
}

/// The binary cargo was asked to build but the workspace does not have, from its error.
pub fn missing_bin(stderr: &str) -> Option<String> {
    let marker = "no bin target named `";
    let start = stderr.find(marker)? + marker.len();
    let end = stderr[start..].find('`')?;
    Some(stderr[start..start + end].to_string())
}

fn offline_crate_hint(krate: &str, vendor: Option<&Path>) -> String {
    let provided = vendor.map(vendored_crates).unwrap_or_default();
    if provided.is_empty() {
        format!(
            "Cargo could not find the crate `{krate}`. Grading builds offline: remove the dependency, or use a crate the lab's starter already depends on."
        )
    } else {
        format!(
            "The crate `{krate}` is not in the grading image's offline crate set, so it cannot be used in this lab. Remove it from Cargo.toml. The image provides: {}.",
            provided.join(", ")
        )
    }
}

/// Names of the crates in a vendor directory (`name-1.2.3` folders), without versions, sorted.
pub fn vendored_crates(vendor: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(vendor)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .map(|n| match n.rfind('-') {
                    Some(i) if n[i + 1..].starts_with(|c: char| c.is_ascii_digit()) => {
                        n[..i].to_string()
                    }
                    _ => n,
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_missing_crate() {
        let err = "error: no matching package named `rand` found\nlocation searched: directory source `/opt/v`";
        assert_eq!(missing_crate(err).as_deref(), Some("rand"));
        assert_eq!(missing_crate("error[E0425]: cannot find value"), None);
        let newer = "error: no matching package found\nsearched package name: `rand`\nperhaps you meant:      errno";
        assert_eq!(missing_crate(newer).as_deref(), Some("rand"));
        let err = "error: no bin target named `listener` in default-run packages\nhelp: available bin targets:\n    listen\n";
        assert_eq!(missing_bin(err).as_deref(), Some("listener"));
    }

    #[test]
    fn excerpt_starts_at_the_first_error() {
        let stderr = "   Compiling x\nwarning: unused\nerror[E0308]: mismatched types\n --> src/main.rs:3:5\n";
        let ex = error_excerpt(stderr, "");
        assert!(ex.starts_with("error[E0308]"), "{ex}");
        assert!(ex.contains("src/main.rs:3:5"));
    }

    #[test]
    fn vendored_names_drop_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in [
            "clap-4.6.7",
            "clap_derive-4.6.7",
            "nix-0.31.3",
            "signal-hook-0.4.6",
            "signal-hook-registry-1.4.2",
        ] {
            std::fs::create_dir(dir.path().join(n)).expect("mkdir");
        }
        assert_eq!(
            vendored_crates(dir.path()),
            vec![
                "clap",
                "clap_derive",
                "nix",
                "signal-hook",
                "signal-hook-registry"
            ]
        );
    }
}
