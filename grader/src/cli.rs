//! The command line: parses arguments, loads the lab, grades, writes the reports, and maps every
//! outcome to a documented exit status. The grading itself lives in `grade`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use batch::environment::Environment;
use engine::Catalog;
pub use engine::exit::{EXIT_ERROR, EXIT_FAILED, EXIT_PASSED};
use engine::grade;

use crate::catalog;

const EXIT_CODES: &str = "\
Exit status:
  0  every check with points passed (information-only checks never change it)
  1  some check with points failed or was skipped (the report says which and why)
  2  the grader could not grade: a bad lab file, a missing or unreadable submission,
     a missing tool, no way to set up the lab's users, or a report file it could not write;
     the error and its fix go to stderr, and the last stdout line is `GRADE: none (...)`

The last line of stdout is always `GRADE: <score>/<max> (<percent>%)` or, with exit 2,
`GRADE: none (the grader could not grade: see the error above)`.";

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
    #[command(after_help = ipc_kinds::depth::command::EXIT_CODES)]
    Depth(ipc_kinds::depth::DepthArgs),
    /// Grade many submissions in parallel, each isolated in a slot of its own, and write a
    /// gradebook (CSV) plus each submission's JSON, JUnit and text report.
    #[command(after_help = batch::EXIT_CODES)]
    Batch(batch::BatchArgs),
    /// Export a gradebook for Canvas or Moodle, or merge the gradebooks of shards.
    #[command(after_help = batch::GRADEBOOK_EXIT_CODES)]
    Gradebook(batch::GradebookArgs),
    /// List the labs built into this grader (id, title, points, file): `--lab` takes an id.
    Labs,
    /// Print the check kinds this grader knows and each one's keys, as the Markdown table of
    /// labs/README.md's lab file reference.
    Kinds,
}

#[derive(Debug, clap::Args)]
pub struct GradeArgs {
    /// The submission: the student's repository.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The lab: a built-in lab's id (`grader labs` lists them: ipc, original, ipc-2b, shm, monitor, deputy, proxy) or a path
    /// to a lab file [default: ipc, the Rust edition of the IPC lab, labs/ipc/lab.toml]. The
    /// original handout's C/Python edition is `--lab original`.
    #[arg(long, value_name = "ID|FILE")]
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
    /// Who reads the report, the JUnit file and the exit status: `student` shows only visible
    /// checks; `released` also the lab's `after_due_date` and `after_published` ones (once the
    /// due date is past and grades are published); `instructor` every check, hidden ones too.
    /// A check not shown is left out of the grade line; --json is always complete.
    #[arg(long, value_name = "WHO", default_value = "student")]
    pub audience: report::Audience,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let catalog = catalog::catalog();
    match cli.command {
        Command::Grade(args) => grade_command(args, &catalog),
        Command::Depth(args) => {
            let load = |lab: Option<&std::path::Path>| {
                catalog
                    .load(lab.or(Some(std::path::Path::new("ipc"))))
                    .map_err(|e| e.to_string())
            };
            ipc_kinds::depth::command::main(args, &load)
        }
        Command::Batch(args) => batch::main(args, &catalog),
        Command::Gradebook(args) => batch::gradebook_main(&args, &catalog),
        Command::Labs => list_labs(&catalog),
        Command::Kinds => {
            print!("{}", catalog.registry.reference_markdown());
            ExitCode::from(EXIT_PASSED)
        }
        Command::CheckLab { file } => match catalog.load(Some(&file)) {
            Ok(lab) => {
                println!(
                    "{}: lab `{}` ({}), {} parts, {} checks, {} points, digest {}",
                    file.display(),
                    lab.name,
                    lab.title,
                    lab.parts.len(),
                    lab.checks.len(),
                    report::model::format_points(lab.max_points()),
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

/// `fail` for `grader grade`: its last stdout line is a grade line in every case, so a script or
/// a CI log reader finds one even when nothing could be graded.
fn fail_grade(message: &str) -> ExitCode {
    eprintln!("grader: error: {message}");
    println!("{NOT_GRADED}");
    ExitCode::from(EXIT_ERROR)
}

/// The last stdout line of a `grader grade` that exits 2.
pub const NOT_GRADED: &str = "GRADE: none (the grader could not grade: see the error above)";

/// `grader labs`: one line per built-in lab.
fn list_labs(catalog: &Catalog) -> ExitCode {
    println!("{:<10} {:>6}  {:<24} title", "id", "points", "file");
    for builtin in &catalog.labs {
        match catalog.load(Some(std::path::Path::new(builtin.id))) {
            Ok(lab) => println!(
                "{:<10} {:>6}  {:<24} {}",
                builtin.id,
                report::model::format_points(lab.max_points()),
                builtin.file,
                lab.title
            ),
            Err(e) => return fail(&e.to_string()),
        }
    }
    ExitCode::from(EXIT_PASSED)
}

fn grade_command(args: GradeArgs, catalog: &Catalog) -> ExitCode {
    let lab = match catalog.load(args.lab.as_deref()) {
        Ok(lab) => lab,
        Err(e) => return fail_grade(&e.to_string()),
    };
    // Refuse report paths that cannot be written before spending minutes on a build, and remove
    // an older report there: a run that cannot grade must not leave a stale grade to be read.
    for path in [&args.json, &args.junit].into_iter().flatten() {
        if let Err(e) = report::ensure_parent_exists(path) {
            return fail_grade(&e.to_string());
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return fail_grade(&format!(
                    "cannot replace the old report {}: {e}\n  fix: make it writable or choose another path",
                    path.display()
                ));
            }
            _ => {}
        }
    }
    let mut opts = args.env.options();
    opts.keep_scratch = args.keep_scratch;
    opts.notices
        .extend(catalog.other_edition(&lab.name, &args.dir));
    if let Some(vendor) = &opts.vendor
        && !vendor.is_dir()
    {
        return fail_grade(&format!(
            "the offline crate set {} is not a directory\n  fix: point GRADER_VENDOR_DIR (or --vendor-dir) at the output of `cargo vendor`, or unset it",
            vendor.display()
        ));
    }
    if let Err(e) = sandbox::become_subreaper() {
        return fail_grade(&e.to_string());
    }
    // A lab with a seed (its reference) has it built once per cache first: then this build,
    // and every later one, compiles only the student's own crates (see `engine::build_seed`).
    if let Some(took) = engine::build_seed::build_first(&lab, &catalog.registry, &opts) {
        eprintln!(
            "grader: built the lab's reference crates once for this cache ({:.1} s): from now on a build compiles only your code",
            took.as_secs_f64()
        );
    }
    let report = match grade::grade(&lab, &catalog.registry, &args.dir, &opts) {
        Ok(r) => r,
        Err(e) => return fail_grade(&e.to_string()),
    };
    if let Some(path) = &args.json {
        let json = report::gradescope_json(&report);
        let text = match serde_json::to_vec_pretty(&json) {
            Ok(t) => t,
            Err(e) => return fail_grade(&format!("cannot encode the JSON report: {e}")),
        };
        if let Err(e) = report::write_atomically(path, &text) {
            return fail_grade(&e.to_string());
        }
    }
    // Gradescope's file above is complete (Gradescope applies each test's visibility itself);
    // everything below is what this audience may see.
    let report = report.for_audience(args.audience);
    if let Some(path) = &args.junit {
        let xml = match report::junit_xml(&report) {
            Ok(x) => x,
            Err(e) => return fail_grade(&e.to_string()),
        };
        if let Err(e) = report::write_atomically(path, xml.as_bytes()) {
            return fail_grade(&e.to_string());
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
