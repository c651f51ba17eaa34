//! `proxy-check`: the grader's checkers; exit 0 pass, 1 fail, 2 bad arguments.

use std::process::ExitCode;

fn main() -> ExitCode {
    proxy_tools::cli::check::main()
}
