//! `proxy-kvclient`: one request to the server or the proxy, the reply in words.

use std::process::ExitCode;

fn main() -> ExitCode {
    proxy_tools::cli::kvclient::main()
}
