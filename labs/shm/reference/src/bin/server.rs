//! `server N`: see `ipc::server`.
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ipc::server::main_with_args(&args)
}
