//! `monitor-bench`: see monitor_tools::cli (thin entry point).

fn main() -> std::process::ExitCode {
    monitor_tools::bench::main()
}
