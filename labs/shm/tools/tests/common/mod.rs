//! What the lab's test programs share: installing a submission-shaped directory with
//! install.sh, a private place per test (socket, log, shm name), starting a server and
//! waiting for its readiness line, running a tool with a deadline, dropping to a lab uid.
//!
//! Every wait here has a deadline; nothing sleeps.
#![allow(dead_code)]

use libtest_mimic::Failed;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

pub const HOSTILE: &str = env!("CARGO_BIN_EXE_shm-hostile");
pub const CLIENTS: &str = env!("CARGO_BIN_EXE_shm-clients");
pub const LAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

pub type R = Result<(), Failed>;

pub fn fail(s: impl Into<String>) -> Failed {
    s.into().into()
}

/// `bash install.sh DIR SOURCE` for the lab's reference or starter, once per test process.
pub fn installed(which: &'static str) -> Result<PathBuf, Failed> {
    static REF: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static START: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let cell = if which == "reference" { &REF } else { &START };
    cell.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("shm-{which}"));
        install(
            &PathBuf::from(format!("{LAB}/{which}")),
            &base.join("bin"),
            &base.join("target"),
        )
    })
    .clone()
    .map_err(fail)
}

/// Build `src` with install.sh into `dir`, with `target` as the cargo target directory.
pub fn install(src: &Path, dir: &Path, target: &Path) -> Result<PathBuf, String> {
    {
        {
            let dir = dir.to_path_buf();
            let out = Command::new("bash")
                .arg(format!("{LAB}/install.sh"))
                .arg(&dir)
                .arg(src)
                .env("CARGO_TARGET_DIR", target)
                .output()
                .map_err(|e| format!("install.sh: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "install.sh {} failed: {}",
                    src.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(dir)
        }
    }
}

/// A private place for one test: socket, log, shm name; world-accessible for the uid tests.
pub struct Place {
    pub dir: tempfile::TempDir,
    pub shm_name: String,
}

impl Place {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("shm-lab-test")
            .tempdir()
            .expect("tempdir");
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .expect("chmod");
        let shm_name = format!(
            "/shm-lab-test-{}",
            dir.path().file_name().expect("name").to_string_lossy()
        );
        Self { dir, shm_name }
    }
    pub fn sock(&self) -> PathBuf {
        self.dir.path().join("ipc.sock")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }
    pub fn env(&self, c: &mut Command) {
        c.env("SHM_IPC_SOCKET", self.sock())
            .env("SHM_IPC_LOG", self.log())
            .env("SHM_IPC_NAME", &self.shm_name);
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm{}", self.shm_name));
    }
}

/// Run as a lab uid: setgroups, setgid, setuid, then make sure root is gone.
pub fn as_uid(c: &mut Command, uid: u32) {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(uid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setuid(0) == 0 {
                return Err(std::io::Error::other("still root after the drop"));
            }
            Ok(())
        });
    }
}

pub struct Server {
    pub child: Child,
}

impl Server {
    pub fn start(bin: &Path, place: &Place, n: usize, uid: Option<u32>) -> Result<Self, Failed> {
        let mut c = Command::new(bin.join("server"));
        c.arg(n.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        place.env(&mut c);
        if let Some(u) = uid {
            as_uid(&mut c, u);
        }
        let mut child = c.spawn().map_err(|e| fail(format!("server: {e}")))?;
        let out = child.stdout.take().ok_or_else(|| fail("no stdout"))?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the server never blocks on a full pipe.
            let mut sink = Vec::new();
            let _ = r.read_to_end(&mut sink);
        });
        let mut s = Server { child };
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) if l.starts_with("server ready") => Ok(s),
            Ok(l) => {
                s.kill();
                Err(fail(format!(
                    "server's first line {l:?}, expected `server ready ...`"
                )))
            }
            Err(_) => {
                s.kill();
                Err(fail("no readiness line within 10 s"))
            }
        }
    }
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_deadline(&mut self.child, limit)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Wait for a child with a deadline (the wait itself blocks in a helper thread).
pub fn wait_deadline(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: a peek with WNOWAIT: the child stays for Child::wait to reap.
        let r = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        let _ = tx.send(r);
    });
    match rx.recv_timeout(limit) {
        Ok(_) => child.wait().ok(),
        Err(_) => None,
    }
}

pub fn threads(pid: u32) -> Option<usize> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

pub fn run_tool(
    tool: &str,
    args: &[&str],
    bin: &Path,
    place: &Place,
    limit: Duration,
) -> Result<(Option<i32>, String), Failed> {
    let mut c = Command::new(tool);
    c.args(args)
        .env("IPCDIR", bin)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    place.env(&mut c);
    let mut child = c.spawn().map_err(|e| fail(format!("{tool}: {e}")))?;
    let mut out = child.stdout.take().ok_or_else(|| fail("no stdout"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    let st = wait_deadline(&mut child, limit);
    if st.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        return Err(fail(format!(
            "{tool} {args:?} did not end within {limit:?}"
        )));
    }
    let text = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    Ok((st.and_then(|s| s.code()), text))
}
