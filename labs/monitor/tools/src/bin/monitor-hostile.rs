//! `monitor-hostile`: see monitor_tools::cli (thin entry point).

fn main() -> std::process::ExitCode {
    monitor_tools::cli::server_main(monitor_tools::server_app::Mode::Hostile)
}
