//! The `grader-dev reliability` command line: runs the corpus with this very binary as the grader,
//! prints a line per entry and the table, and optionally writes the table into a README between
//! its reliability markers.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use super::{RunOptions, Summary, markdown, update_readme};

pub const EXIT_CODES: &str = "\
Exit status:
  0  every entry was graded exactly right and nothing was left, changed, forged or reached
  1  some entry was not, or was not graded because it needs root (the lines above the
     table say which and why)
  2  the corpus could not be run: a bad corpus file, no grader binary, a README not written";

#[derive(Debug, clap::Args)]
pub struct ReliabilityArgs {
    /// The corpus file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "grader/tests/corpus/corpus.toml"
    )]
    pub corpus: PathBuf,
    /// Grade only this entry (repeat for more).
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,
    /// Write the table into this README, between `<!-- reliability:start -->` and
    /// `<!-- reliability:end -->` (added at the end when missing). Needs root and the whole corpus.
    #[arg(long, value_name = "FILE")]
    pub update_readme: Option<PathBuf>,
    /// No line per entry while it runs.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs the command; `kinds` are those of the grader binary being tested.
pub fn main(args: ReliabilityArgs, kinds: lab::Kinds) -> ExitCode {
    let fail = |message: String| {
        eprintln!("grader: error: {message}");
        ExitCode::from(2)
    };
    if args.update_readme.is_some() && (!sandbox::privilege::is_root() || !args.only.is_empty()) {
        return fail(
            "--update-readme needs root and the whole corpus: the hostile entries only run as \
             root, and the table must cover every entry\n  fix: run it as root (sudo, or in CI) \
             without --only"
                .into(),
        );
    }
    // The grader under test sits next to this tool (cargo puts every binary of the workspace in
    // one directory, and the image installs them together); GRADER_RELIABILITY_GRADER grades the
    // corpus with another grader binary (e.g. an older one, to show which entries it got wrong).
    let grader = match std::env::var_os("GRADER_RELIABILITY_GRADER")
        .map(std::path::PathBuf::from)
        .map_or_else(
            || std::env::current_exe().map(|p| p.with_file_name("grader")),
            Ok,
        ) {
        Ok(path) => path,
        Err(e) => return fail(format!("cannot find this tool's own directory: {e}")),
    };
    let env = match native_toolchain(&args.corpus) {
        Ok(env) => env,
        Err(message) => return fail(message),
    };
    let opts = RunOptions {
        corpus: args.corpus.clone(),
        grader,
        kinds,
        env,
        only: args.only.clone(),
        progress: !args.quiet,
    };
    let run = match super::run(&opts) {
        Ok(run) => run,
        Err(e) => return fail(e.to_string()),
    };
    let summary = Summary::of(&run);
    let table = markdown(&summary, &args.corpus.display().to_string());
    print!("{table}");
    if let Some(readme) = &args.update_readme {
        if let Err(e) = update_readme(readme, &table) {
            return fail(format!("cannot update {}: {e}", readme.display()));
        }
        eprintln!("reliability: table written into {}", readme.display());
    }
    ExitCode::from(if summary.holds() { 0 } else { 1 })
}

/// As root outside Docker, student builds need a toolchain and crates the lab's users can read:
/// the repository's `.ci/native-toolchain.sh` prepares both and says where. Used only when
/// GRADER_TOOL_PATH is not set already and the script is found next to the corpus.
fn native_toolchain(corpus: &Path) -> Result<Vec<(OsString, OsString)>, String> {
    if !sandbox::privilege::is_root() || std::env::var_os("GRADER_TOOL_PATH").is_some() {
        return Ok(Vec::new());
    }
    let corpus = std::fs::canonicalize(corpus).unwrap_or_else(|_| corpus.to_path_buf());
    let Some(script) = corpus
        .ancestors()
        .map(|dir| dir.join(".ci/native-toolchain.sh"))
        .find(|path| path.is_file())
    else {
        return Ok(Vec::new());
    };
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect())
}
