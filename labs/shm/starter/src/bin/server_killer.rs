//! `server_killer N`: see `ipc::killer`.
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ipc::killer::main_with_args(&args)
}
