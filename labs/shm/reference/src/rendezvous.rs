//! Where a client finds the server: the path of the server's Unix socket and of its audit log,
//! both overridable from the environment, and how long a client waits for a server to appear.
//!
//! It only computes names; it must never create, open or remove anything.

use std::path::PathBuf;
use std::time::Duration;

/// The socket when nothing overrides it.
pub const DEFAULT_SOCKET: &str = "/tmp/shm-ipc.sock";
/// Overrides the socket's path.
pub const SOCKET_ENV: &str = "SHM_IPC_SOCKET";
/// When set, the server appends its audit log (JSON lines) to this file.
pub const LOG_ENV: &str = "SHM_IPC_LOG";
/// The client's descriptors to hand to the server at connect, e.g. `0,1,2,7`.
pub const FDS_ENV: &str = "SHM_IPC_FDS";
/// How long `ipc_get_job_buffer` waits for a server, in milliseconds.
pub const WAIT_ENV: &str = "SHM_IPC_WAIT_MS";
/// The wait when nothing overrides it.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// The socket's path: `$SHM_IPC_SOCKET`, else [`DEFAULT_SOCKET`].
pub fn socket_path() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}

/// The audit log's path, if one was asked for.
pub fn log_path() -> Option<PathBuf> {
    std::env::var_os(LOG_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// How long a client waits for the server to appear.
pub fn wait_for_server() -> Duration {
    std::env::var(WAIT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_WAIT)
}

/// The descriptors a client hands over: `$SHM_IPC_FDS` (comma-separated), else 0, 1 and 2.
/// `Err` names the first entry that is not a descriptor number.
pub fn fds_to_pass() -> Result<Vec<i32>, String> {
    let Ok(list) = std::env::var(FDS_ENV) else {
        return Ok(vec![0, 1, 2]);
    };
    let mut fds = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.parse::<i32>() {
            Ok(fd) if fd >= 0 => fds.push(fd),
            _ => return Err(format!("{FDS_ENV}: `{item}` is not a descriptor number")),
        }
    }
    Ok(fds)
}
