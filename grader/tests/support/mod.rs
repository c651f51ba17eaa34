//! Shared helpers of the grader's integration tests: run the real `grader` binary on a real
//! submission directory and read back its JSON report.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

pub mod handout;

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn submissions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/submissions")
}

/// As root, student builds need a toolchain and crates the lab's users can read; the repository's
/// script prepares both (cached) and says where they are.
fn root_env() -> &'static Vec<(String, String)> {
    static ENV: OnceLock<Vec<(String, String)>> = OnceLock::new();
    ENV.get_or_init(|| {
        if !is_root() {
            return Vec::new();
        }
        let out = Command::new("bash")
            .arg(repo_root().join(".ci/native-toolchain.sh"))
            .output()
            .expect("run .ci/native-toolchain.sh");
        assert!(
            out.status.success(),
            "native-toolchain.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect()
    })
}

/// The grader binary at a path every user can execute. Some tests run it as `nobody`, and the
/// build tree may sit below a directory only root can enter (a checkout under /root). As root it
/// is a hard link (a copy across file systems) in a root-owned directory, swapped in by rename.
pub fn grader_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let built = PathBuf::from(assert_cmd::cargo::cargo_bin!("grader"));
        if !is_root() {
            return built;
        }
        // One directory per build tree: two checkouts testing at once must not swap binaries.
        let tree = built
            .parent()
            .map_or_else(String::new, |p| p.display().to_string());
        let dir =
            std::env::temp_dir().join(format!("ipc-lab-test-bin-{}", grader::lab::digest(&tree)));
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| !m.is_dir() || m.uid() != 0) {
            let _ = std::fs::remove_file(&dir).or_else(|_| std::fs::remove_dir_all(&dir));
        }
        let _ = std::fs::create_dir(&dir);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let staged = dir.join(format!(".grader.{}", std::process::id()));
        let _ = std::fs::remove_file(&staged);
        if std::fs::hard_link(&built, &staged).is_err() {
            std::fs::copy(&built, &staged).expect("copy the grader");
        }
        let exe = dir.join("grader");
        std::fs::rename(&staged, &exe).expect("install the grader");
        // The labs' tool programs go next to it: scenario checks find them as {tools}.
        if let Some(built_dir) = built.parent() {
            install_tools(built_dir, &dir);
        }
        exe
    })
}

/// Links (or copies) every lab tool program cargo built (`shm-clients`, `deputy-attack`, ...)
/// into `to`, where the lab's users can run them.
fn install_tools(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_tool = ["shm-", "monitor-", "deputy-", "proxy-"]
            .iter()
            .any(|p| name.starts_with(p))
            && !name.contains('.');
        let Ok(meta) = entry.metadata() else { continue };
        if !is_tool || !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            continue;
        }
        let staged = to.join(format!(".{name}.{}", std::process::id()));
        let _ = std::fs::remove_file(&staged);
        if std::fs::hard_link(entry.path(), &staged).is_err()
            && std::fs::copy(entry.path(), &staged).is_err()
        {
            continue;
        }
        let _ = std::fs::rename(&staged, to.join(&name));
    }
}

/// A grader command with a shared build cache, so repeated grades of one path stay fast.
pub fn grader() -> Command {
    let mut cmd = Command::new(grader_exe());
    cmd.env(
        "GRADER_CACHE_DIR",
        std::env::temp_dir().join("ipc-lab-test-cache"),
    );
    cmd.env("NO_COLOR", "1");
    // The suite grades hundreds of distinct submissions into one cache; keep them all, so the
    // next run finds them built (a course's cache keeps the last 32 by default).
    cmd.env("GRADER_CACHE_KEEP", "100000");
    for (k, v) in root_env() {
        cmd.env(k, v);
    }
    cmd
}

#[derive(Debug)]
pub struct Graded {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub json: Value,
}

impl Graded {
    pub fn score(&self) -> f64 {
        self.json["score"].as_f64().expect("score")
    }

    pub fn check(&self, id: &str) -> &Value {
        self.json["tests"]
            .as_array()
            .expect("tests")
            .iter()
            .find(|t| t["extra_data"]["id"] == id)
            .unwrap_or_else(|| panic!("no check {id} in report"))
    }

    /// passed, failed or skipped.
    pub fn outcome(&self, id: &str) -> String {
        self.check(id)["extra_data"]["outcome"]
            .as_str()
            .expect("outcome")
            .to_string()
    }

    pub fn output(&self, id: &str) -> String {
        self.check(id)["output"]
            .as_str()
            .expect("output")
            .to_string()
    }

    /// Ids of checks that did not pass and carry points.
    pub fn lost(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.json["tests"]
            .as_array()
            .expect("tests")
            .iter()
            .filter(|t| {
                t["max_score"].as_f64() > Some(0.0) && t["extra_data"]["outcome"] != "passed"
            })
            .map(|t| t["extra_data"]["id"].as_str().expect("id").to_string())
            .collect();
        ids.sort();
        ids
    }
}

pub fn grade(dir: &Path, lab: Option<&Path>) -> Graded {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let json_path = out_dir.path().join("results.json");
    let mut cmd = grader();
    cmd.arg("grade").arg(dir).arg("--json").arg(&json_path);
    if let Some(lab) = lab {
        cmd.arg("--lab").arg(lab);
    }
    let out = cmd.output().expect("run grader");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let text = std::fs::read_to_string(&json_path)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stdout:\n{stdout}\nstderr:\n{stderr}"));
    Graded {
        code: out.status.code().unwrap_or(-1),
        stdout,
        stderr,
        json: serde_json::from_str(&text).expect("valid JSON"),
    }
}

/// Copies a directory tree (files, directories, modes).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// A copy of a submission, readable by the lab's users, with `edit` applied.
pub fn variant(base: &Path, edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ipc-lab-variant-")
        .tempdir()
        .expect("tempdir");
    copy_tree(base, dir.path());
    edit(dir.path());
    dir
}

/// Replaces `from` by `to` in one file of a variant, failing loudly if the text is not there.
pub fn replace_in(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(
        text.contains(from),
        "test setup: `{from}` not found in {file}"
    );
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
}
