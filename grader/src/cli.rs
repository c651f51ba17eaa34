//! The command line: parses arguments, loads the lab, grades, writes the reports, and maps every
//! outcome to a documented exit status. The grading itself lives in `grade`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::grade::{self, Options};
use crate::lab::Lab;
use crate::report;

/// Every check passed.
pub const EXIT_PASSED: u8 = 0;
/// Some check failed or was skipped.
pub const EXIT_FAILED: u8 = 1;
/// The grader could not grade: bad lab file, missing directory, missing tool, unwritable report.
pub const EXIT_ERROR: u8 = 2;

const EXIT_CODES: &str = "\
Exit status:
  0  every check passed
  1  some check failed or was skipped (the report says which and why)
  2  the grader could not grade: a bad lab file, a missing or unreadable submission,
     a missing tool, no way to set up the lab's users, or a report file it could not write";

#[derive(Debug, Parser)]
#[command(
    name = "grader",
    version,
    about = "Grades a student's submission of the ipc-lab (signals, pipes, distrustful decomposition).",
    long_about = "Grades a student's submission of the ipc-lab. It builds a private copy of the \
submission, runs the lab's checks with real signals and pipes, and, when run as root (as in Docker \
and GitLab CI), runs every student program as an unprivileged user: the files' owner, or the \
sandbox user garfield for the distrustful-decomposition check. The submission is never modified.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Grade the submission in DIR and print the report; the last line is `GRADE: <score>/<max> (<percent>%)`.
    #[command(after_help = EXIT_CODES)]
    Grade(GradeArgs),
    /// Check a lab file and print what it defines, without grading anything.
    CheckLab {
        /// The lab file to check.
        file: PathBuf,
    },
    /// Run the traversal corpus against every mode of the cat, as the files' owner and (as root)
    /// as the confined user, and print the defense-in-depth table of Part 2b.
    #[command(after_help = crate::depth::command::EXIT_CODES)]
    Depth(crate::depth::DepthArgs),
    /// Grade many submissions in parallel, each isolated in a slot of its own, and write a
    /// gradebook (CSV) plus each submission's JSON, JUnit and text report.
    #[command(after_help = crate::batch::EXIT_CODES)]
    Batch(crate::batch::BatchArgs),
    /// Grade the corpus of broken and hostile submissions with this grader and print the
    /// reliability table (graded right, deadlines, processes and files left, bytes changed,
    /// forged grades, memory).
    #[command(after_help = crate::reliability::command::EXIT_CODES)]
    Reliability(crate::reliability::command::ReliabilityArgs),
}

#[derive(Debug, clap::Args)]
pub struct GradeArgs {
    /// The submission: the student's repository.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Lab definition file [default: the IPC lab built into the grader, labs/ipc/lab.toml].
    #[arg(long, value_name = "FILE")]
    pub lab: Option<PathBuf>,
    /// Also write Gradescope-compatible results.json here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write a JUnit XML report here (for GitLab's artifacts:reports:junit).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub env: Environment,
    /// Keep the scratch tree after grading, to look at by hand.
    #[arg(long)]
    pub keep_scratch: bool,
}

/// Where the grader keeps its caches and scratch trees and what student builds get: shared by
/// `grade` and `batch`.
#[derive(Debug, Clone, clap::Args)]
pub struct Environment {
    /// Build caches, one per submission path, so a regrade does not rebuild everything.
    #[arg(long, value_name = "DIR", env = "GRADER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Offline crate set (the output of `cargo vendor`) that student builds use instead of the network.
    #[arg(long, value_name = "DIR", env = "GRADER_VENDOR_DIR")]
    pub vendor_dir: Option<PathBuf>,
    /// Where scratch trees are made [default: the temporary directory].
    #[arg(long, value_name = "DIR", env = "GRADER_SCRATCH_DIR")]
    pub scratch_dir: Option<PathBuf>,
    /// PATH given to student builds and programs [default as root: system directories and /usr/local/cargo/bin].
    #[arg(long, value_name = "PATH", env = "GRADER_TOOL_PATH")]
    pub tool_path: Option<String>,
}

impl Environment {
    /// Grading options with these settings over the defaults.
    pub fn options(&self) -> Options {
        let mut opts = Options::from_defaults();
        if let Some(dir) = &self.cache_dir {
            opts.cache_dir = dir.clone();
        }
        if let Some(dir) = &self.scratch_dir {
            opts.scratch_parent = dir.clone();
        }
        opts.vendor = self.vendor_dir.clone();
        opts.tool_path = self.tool_path.clone().map(Into::into);
        opts
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Grade(args) => grade_command(args),
        Command::Depth(args) => crate::depth::command::main(args),
        Command::Batch(args) => crate::batch::main(args),
        Command::Reliability(args) => crate::reliability::command::main(args),
        Command::CheckLab { file } => match Lab::load(&file) {
            Ok(lab) => {
                println!(
                    "{}: lab `{}` ({}), {} parts, {} checks, {} points, digest {}",
                    file.display(),
                    lab.name,
                    lab.title,
                    lab.parts.len(),
                    lab.checks.len(),
                    crate::model::format_points(lab.max_points()),
                    lab.digest
                );
                ExitCode::from(EXIT_PASSED)
            }
            Err(e) => fail(&e.to_string()),
        },
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("grader: error: {message}");
    ExitCode::from(EXIT_ERROR)
}

fn grade_command(args: GradeArgs) -> ExitCode {
    let lab = match &args.lab {
        Some(path) => Lab::load(path),
        None => Lab::embedded(),
    };
    let lab = match lab {
        Ok(lab) => lab,
        Err(e) => return fail(&e.to_string()),
    };
    // Refuse report paths that cannot be written before spending minutes on a build, and remove
    // an older report there: a run that cannot grade must not leave a stale grade to be read.
    for path in [&args.json, &args.junit].into_iter().flatten() {
        if let Err(e) = report::ensure_parent_exists(path) {
            return fail(&e.to_string());
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return fail(&format!(
                    "cannot replace the old report {}: {e}\n  fix: make it writable or choose another path",
                    path.display()
                ));
            }
            _ => {}
        }
    }
    let mut opts = args.env.options();
    opts.keep_scratch = args.keep_scratch;
    if let Some(vendor) = &opts.vendor
        && !vendor.is_dir()
    {
        return fail(&format!(
            "the offline crate set {} is not a directory\n  fix: point GRADER_VENDOR_DIR (or --vendor-dir) at the output of `cargo vendor`, or unset it",
            vendor.display()
        ));
    }
    if let Err(e) = crate::sandbox::become_subreaper() {
        return fail(&e.to_string());
    }
    let report = match grade::grade(&lab, &args.dir, &opts) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    if let Some(path) = &args.json {
        let json = report::gradescope_json(&report);
        let text = match serde_json::to_vec_pretty(&json) {
            Ok(t) => t,
            Err(e) => return fail(&format!("cannot encode the JSON report: {e}")),
        };
        if let Err(e) = report::write_atomically(path, &text) {
            return fail(&e.to_string());
        }
    }
    if let Some(path) = &args.junit {
        let xml = match report::junit_xml(&report) {
            Ok(x) => x,
            Err(e) => return fail(&e.to_string()),
        };
        if let Err(e) = report::write_atomically(path, xml.as_bytes()) {
            return fail(&e.to_string());
        }
    }
    // A closed stdout (e.g. `| head`) must not turn a measured grade into a crash.
    let _ = report::print_terminal(&report);
    ExitCode::from(if report.all_passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    })
}
