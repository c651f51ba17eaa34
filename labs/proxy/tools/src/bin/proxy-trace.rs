//! `proxy-trace diff CLEAN FAULTY`: where a faulty run first departs from the clean one.

use std::process::ExitCode;

fn main() -> ExitCode {
    proxy_tools::cli::trace::main()
}
