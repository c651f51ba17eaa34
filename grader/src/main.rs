//! `grader`: see `grader --help`.

fn main() -> std::process::ExitCode {
    grader::cli::main()
}
