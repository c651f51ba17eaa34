//! `grader-dev`: developer tools that students never need (the reliability corpus runner).

use std::process::ExitCode;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "grader-dev",
    version,
    about = "Developer tools of the ipc-lab grader (not in the students' image)."
)]
enum Cli {
    /// Grade the corpus of broken and hostile submissions with the `grader` next to this tool and
    /// print the reliability table (graded right, deadlines, processes and files left, bytes
    /// changed, forged grades, memory).
    #[command(after_help = grader_dev::command::EXIT_CODES)]
    Reliability(grader_dev::command::ReliabilityArgs),
}

fn main() -> ExitCode {
    match Cli::parse() {
        Cli::Reliability(args) => {
            grader_dev::command::main(args, grader::catalog::registry().kinds().clone())
        }
    }
}
