//! `proxy-bench --proxy BIN`: latency and throughput, direct and through the proxy.

use std::process::ExitCode;

fn main() -> ExitCode {
    proxy_tools::cli::bench::main()
}
