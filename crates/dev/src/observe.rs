//! What the runner measures around one grade, from outside the grader: a snapshot of a directory
//! tree (to count changed bytes), the processes the lab's users or the grader left, the grader's
//! own peak memory (VmHWM in /proc, read while it runs), connections that reached a port, and a
//! canary process of an unrelated user that student code must not be able to kill.
//!
//! Reads /proc and the file system; the only processes it signals are leftovers it has just
//! counted (so the next entry starts clean) and its own canary.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// One entry of a tree: its kind, owner, mode, modification time and bytes (a link's target).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    kind: u32,
    mode: u32,
    owner: (u32, u32),
    mtime: (i64, i64),
    bytes: Vec<u8>,
}

/// Everything about a directory tree that a change could touch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<PathBuf, Node>);

impl Snapshot {
    pub fn take(root: &Path) -> io::Result<Snapshot> {
        let mut nodes = BTreeMap::new();
        walk(root, root, &mut nodes)?;
        Ok(Snapshot(nodes))
    }

    /// Bytes that differ between the two trees: content bytes changed, added or removed, plus
    /// one for each entry whose kind, mode, owner or modification time changed.
    pub fn bytes_changed(&self, after: &Snapshot) -> u64 {
        let mut changed = 0u64;
        for (path, old) in &self.0 {
            match after.0.get(path) {
                None => changed += old.bytes.len() as u64 + 1,
                Some(new) => {
                    let common = old.bytes.len().min(new.bytes.len());
                    let differing = old.bytes[..common]
                        .iter()
                        .zip(&new.bytes[..common])
                        .filter(|(a, b)| a != b)
                        .count();
                    changed += differing as u64 + old.bytes.len().abs_diff(new.bytes.len()) as u64;
                    if (old.kind, old.mode, old.owner, old.mtime)
                        != (new.kind, new.mode, new.owner, new.mtime)
                    {
                        changed += 1;
                    }
                }
            }
        }
        for (path, new) in &after.0 {
            if !self.0.contains_key(path) {
                changed += new.bytes.len() as u64 + 1;
            }
        }
        changed
    }
}

fn walk(root: &Path, dir: &Path, nodes: &mut BTreeMap<PathBuf, Node>) -> io::Result<()> {
    let meta = fs::symlink_metadata(dir)?;
    nodes.insert(
        dir.strip_prefix(root).unwrap_or(dir).to_path_buf(),
        node(&meta, Vec::new()),
    );
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            walk(root, &path, nodes)?;
            continue;
        }
        let bytes = if meta.file_type().is_symlink() {
            fs::read_link(&path)?.into_os_string().into_encoded_bytes()
        } else if meta.is_file() {
            fs::read(&path)?
        } else {
            Vec::new()
        };
        nodes.insert(
            path.strip_prefix(root).unwrap_or(&path).to_path_buf(),
            node(&meta, bytes),
        );
    }
    Ok(())
}

fn node(meta: &fs::Metadata, bytes: Vec<u8>) -> Node {
    Node {
        kind: meta.mode() & 0o170_000,
        mode: meta.mode() & 0o7777,
        owner: (meta.uid(), meta.gid()),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        bytes,
    }
}

/// Fields of /proc/<pid>/stat and status the runner needs.
struct ProcInfo {
    state: char,
    ppid: i32,
    uids: Vec<u32>,
}

fn proc_info(pid: i32) -> Option<ProcInfo> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uids = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_ascii_whitespace()
        .take(3)
        .filter_map(|id| id.parse().ok())
        .collect();
    Some(ProcInfo { state, ppid, uids })
}

fn all_pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `pid` descends from `me`. Every process a grade leaves does: the grader is a child of
/// the runner and a subreaper, and the runner is one too, so orphans climb back up to it.
/// Processes of the lab's users that do not are another grader's (another test on the machine).
fn descends_from(pid: i32, me: i32) -> bool {
    let mut at = pid;
    for _ in 0..256 {
        match proc_info(at) {
            Some(info) if info.ppid == me => return true,
            Some(info) if info.ppid > 1 => at = info.ppid,
            _ => return false,
        }
    }
    false
}

/// Processes still alive after a grade: those of the lab's users below the runner, and children
/// of the runner (orphans of the grader come back to it, a subreaper) other than the ones in
/// `mine`. Counted, then killed and reaped so the next entry starts clean.
pub fn processes_left(uids: &[u32], mine: &[i32]) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut left = Vec::new();
    for pid in all_pids() {
        if pid == me || mine.contains(&pid) {
            continue;
        }
        let Some(info) = proc_info(pid) else { continue };
        let of_user = info.uids.iter().any(|uid| uids.contains(uid)) && descends_from(pid, me);
        let orphan = info.ppid == me;
        if info.state == 'Z' && orphan {
            // A dead orphan of the grader only needs reaping; it runs nothing.
            let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
            continue;
        }
        if (of_user && info.state != 'Z') || orphan {
            left.push(pid);
        }
    }
    for pid in &left {
        // Pinned first, so a pid reused since the look is not hit.
        let pinned = rustix::process::Pid::from_raw(*pid).and_then(|raw| {
            rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()).ok()
        });
        match pinned {
            Some(fd) if proc_info(*pid).is_some() => {
                let _ = rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL);
            }
            Some(_) => {}
            None => {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            }
        }
    }
    for pid in &left {
        if proc_info(*pid).is_some_and(|info| info.ppid == me) {
            let _ = waitpid(Pid::from_raw(*pid), None);
        }
    }
    left
}

/// A process of a user nobody else uses, started before the corpus and looked at after each
/// entry: student code that kills every process it can (kill(-1, SIGKILL)) must not reach it.
#[derive(Debug)]
pub struct Canary {
    child: Option<Child>,
    uid: u32,
}

impl Canary {
    /// Starts `sleep` as an unused uid (root only; None otherwise).
    pub fn start() -> Option<Canary> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        let uid = (61_000..62_000).find(|uid| {
            uzers::get_user_by_uid(*uid).is_none() && uzers::get_group_by_gid(*uid).is_none()
        })?;
        let mut canary = Canary { child: None, uid };
        canary.respawn();
        Some(canary)
    }

    fn respawn(&mut self) {
        self.child = Command::new("/bin/sleep")
            .arg("1000000")
            .uid(self.uid)
            .gid(self.uid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
    }

    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// Whether it was killed since the last look; a dead canary is replaced.
    pub fn was_hurt(&mut self) -> bool {
        let alive = self
            .child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)));
        if !alive {
            self.respawn();
        }
        !alive
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Peak resident memory of one process so far (VmHWM), in bytes.
fn peak_rss(pid: i32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Largest resident memory of any process the runner waited for, directly or through the
/// grader (student programs included), in bytes.
pub fn largest_waited_process() -> u64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map(|usage| u64::try_from(usage.max_rss()).unwrap_or(0) * 1024)
        .unwrap_or(0)
}

/// What one grader process did.
#[derive(Debug, Clone, Default)]
pub struct GraderRun {
    /// The exit status; None when it was killed (by the runner's own limit or a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The grader's own peak RSS (VmHWM), sampled while it ran.
    pub peak_rss: u64,
    pub wall: Duration,
    pub killed_by_runner: bool,
}

/// Runs the grader command to its end (or `limit`), reading its output and sampling its memory.
pub fn run_grader(mut command: Command, limit: Duration) -> io::Result<GraderRun> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id() as i32;
    let pidfd = rustix::process::Pid::from_raw(pid).and_then(|raw| {
        rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()).ok()
    });
    let reader = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let mut run = GraderRun::default();
    let status = loop {
        if let Some(rss) = peak_rss(pid) {
            run.peak_rss = run.peak_rss.max(rss);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() >= limit {
            run.killed_by_runner = true;
            let _ = child.kill();
            break child.wait()?;
        }
        // Sample every 10 ms, waking at once when the grader exits.
        match &pidfd {
            Some(fd) => {
                let mut fds = [PollFd::new(fd, PollFlags::IN)];
                let tick = Timespec {
                    tv_sec: 0,
                    tv_nsec: 10_000_000,
                };
                let _ = poll(&mut fds, Some(&tick));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    run.code = status.code();
    run.stdout = out.join().unwrap_or_default();
    run.stderr = err.join().unwrap_or_default();
    run.wall = started.elapsed();
    Ok(run)
}

/// A TCP port on the host's loopback that counts the connections reaching it.
#[derive(Debug)]
pub struct Listener(std::net::TcpListener);

impl Listener {
    pub fn open() -> io::Result<Listener> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        Ok(Listener(listener))
    }

    pub fn port(&self) -> u16 {
        self.0.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Connections that arrived so far.
    pub fn connections(&self) -> usize {
        let mut count = 0;
        while self.0.accept().is_ok() {
            count += 1;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_bytes_are_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::write(root.join("a"), "hello").expect("write");
        fs::create_dir(root.join("d")).expect("mkdir");
        fs::write(root.join("d/b"), "x").expect("write");
        let before = Snapshot::take(root).expect("snapshot");
        assert_eq!(
            before.bytes_changed(&Snapshot::take(root).expect("again")),
            0
        );
        fs::write(root.join("a"), "hallo!").expect("write");
        fs::write(root.join("new"), "abc").expect("write");
        let after = Snapshot::take(root).expect("snapshot");
        // a: one byte differs, one added, and its mtime changed (1); new: 3 bytes + 1; the
        // directory's mtime changed (1).
        assert_eq!(before.bytes_changed(&after), 2 + 1 + 4 + 1);
    }

    #[test]
    fn a_grader_run_is_read_and_measured() {
        let mut command = Command::new("/bin/sh");
        command.args(["-c", "echo out; echo err >&2; exit 3"]);
        let run = run_grader(command, Duration::from_secs(20)).expect("runs");
        assert_eq!(run.code, Some(3));
        assert_eq!(run.stdout, "out\n");
        assert_eq!(run.stderr, "err\n");
        assert!(!run.killed_by_runner);
    }
}
