//! `monitor-client`: see monitor_tools::cli (thin entry point).

fn main() -> std::process::ExitCode {
    monitor_tools::cli::client_main()
}
