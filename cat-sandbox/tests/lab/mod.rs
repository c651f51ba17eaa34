//! A throw-away copy of the lab's layout (`secret.txt` next to
//! `litterbox/treasure.txt`) and a hermetic way to run the cat inside it.
//! Shared by several test binaries; each uses only part of it.
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

pub const SECRET: &str = "Hey! This is a secret!";
pub const TREASURE: &str = "Treasure found!";

/// The uid/gid `nobody` has on Debian; any unprivileged id would do.
pub const NOBODY: u32 = 65534;

/// A temporary lab directory, removed on drop.
#[derive(Debug)]
pub struct Lab {
    dir: TempDir,
}

impl Lab {
    /// Builds the lab: secret readable by its owner only (as in the DD part
    /// of the lab), treasure without a trailing newline. The directories
    /// are world-searchable so an unprivileged uid can reach the
    /// litterbox, as garfield can in the real lab.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("create temp lab");
        let lab = Self { dir };
        fs::create_dir(lab.litterbox()).expect("create litterbox");
        lab.write("secret.txt", SECRET, 0o600);
        lab.write("litterbox/treasure.txt", TREASURE, 0o644);
        lab.chmod(".", 0o755);
        lab.chmod("litterbox", 0o755);
        lab
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn litterbox(&self) -> PathBuf {
        self.root().join("litterbox")
    }

    /// Writes `contents` to `relative` (inside the lab) with `mode`.
    pub fn write(&self, relative: &str, contents: &str, mode: u32) {
        fs::write(self.root().join(relative), contents).expect("write lab file");
        self.chmod(relative, mode);
    }

    /// Makes a directory `relative` (inside the lab), searchable by all.
    pub fn mkdir(&self, relative: &str) {
        fs::create_dir(self.root().join(relative)).expect("create lab directory");
        self.chmod(relative, 0o755);
    }

    /// Makes `relative` a symbolic link to `target` (taken as written).
    pub fn link(&self, relative: &str, target: &str) {
        symlink(target, self.root().join(relative)).expect("create lab link");
    }

    pub fn chmod(&self, relative: &str, mode: u32) {
        fs::set_permissions(self.root().join(relative), fs::Permissions::from_mode(mode))
            .expect("chmod lab file");
    }

    /// The cat, started in the lab with an empty environment.
    pub fn cat(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_cat())
    }

    /// The cat started with `--mode <mode>`.
    pub fn cat_in(&self, mode: &str) -> assert_cmd::Command {
        let mut command = self.cat();
        command.args(["--mode", mode]);
        command
    }

    /// The cat as uid/gid [`NOBODY`]; only root may ask for this. It runs a copy kept in the lab
    /// directory: the build tree may sit below a directory only its owner can enter (a checkout
    /// under /root, say), where `nobody` could not execute it.
    pub fn cat_as_nobody(&self) -> assert_cmd::Command {
        let program = self.root().join(".cat-sandbox-for-nobody");
        if !program.exists() {
            // A hard link, not a copy: a file still open for writing while another test thread
            // forks cannot be executed (ETXTBSY). A copy only across file systems.
            let built = assert_cmd::cargo::cargo_bin!("cat-sandbox");
            if fs::hard_link(built, &program).is_err() {
                fs::copy(built, &program).expect("copy the cat");
            }
            fs::set_permissions(&program, fs::Permissions::from_mode(0o755))
                .expect("chmod the cat");
        }
        let mut command = Command::new(program);
        command
            .current_dir(self.root())
            .env_clear()
            .uid(NOBODY)
            .gid(NOBODY);
        assert_cmd::Command::from_std(command)
    }

    /// The same command as a plain `std` one, for tests that drive pipes
    /// themselves.
    pub fn std_cat(&self) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin!("cat-sandbox"));
        command.current_dir(self.root()).env_clear();
        command
    }
}

/// True when running as root, where permission bits do not stop us.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
