//! Laying the corpus' files out in a fresh directory, and removing them again.
//!
//! Everything is written by the grader first, then handed to its owners deepest first, so the
//! grader never writes into a directory it no longer owns (it needs no CAP_DAC_OVERRIDE); removal
//! takes the tree back (CAP_CHOWN) before deleting it, for the same reason. Links are never
//! followed, in either direction. This module must never touch anything outside its own
//! directory.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};

use super::corpus::{Corpus, CorpusFile, FileKind, FileOwner};
use engine::scratch::Owners;

/// A laid-out corpus: `root/` (0711, the grader's) holds `run/` (0755), where the cat runs.
#[derive(Debug)]
pub struct Layout {
    pub root: PathBuf,
    pub run: PathBuf,
    /// This run's placeholder values: `rand` and `run`.
    pub values: BTreeMap<String, String>,
    /// File id -> its path and, for regular files, its content, both expanded.
    files: BTreeMap<String, (PathBuf, Option<String>)>,
    removed: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {what} {}: {error}", .path.display())]
pub struct LayoutError {
    what: &'static str,
    path: PathBuf,
    #[source]
    error: io::Error,
}

fn err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> LayoutError + 'a {
    move |error| LayoutError {
        what,
        path: path.to_path_buf(),
        error,
    }
}

fn chmod(path: &Path, mode: u32) -> Result<(), LayoutError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(err("set the mode of", path))
}

fn mkdir(path: &Path, mode: u32) -> Result<(), LayoutError> {
    fs::DirBuilder::new()
        .mode(mode)
        .create(path)
        .map_err(err("create directory", path))?;
    // The umask may have narrowed the mode.
    chmod(path, mode)
}

/// A fresh random token: 8 hex digits.
pub fn random_token() -> Result<String, io::Error> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Layout {
    /// Lays `corpus` out under a new directory in `parent`, with a fresh `{rand}`. Owners are
    /// only set when `owners` has the lab's users (the grader is root).
    pub fn create(parent: &Path, corpus: &Corpus, owners: &Owners) -> Result<Layout, LayoutError> {
        let root = tempfile::Builder::new()
            .prefix("ipc-lab-depth-")
            .tempdir_in(parent)
            .map_err(err("create a directory in", parent))?
            .keep();
        let run = root.join("run");
        let mut layout = Layout {
            root,
            run,
            values: BTreeMap::new(),
            files: BTreeMap::new(),
            removed: false,
        };
        // From here on, a failure removes what was made (Drop).
        chmod(&layout.root, 0o711)?;
        mkdir(&layout.run, 0o755)?;
        let token = random_token().map_err(err("draw a random name for", &layout.run))?;
        layout.values.insert("rand".into(), token);
        layout
            .values
            .insert("run".into(), layout.run.display().to_string());
        for file in &corpus.files {
            layout.make(file)?;
        }
        for file in corpus.files.iter().rev() {
            layout.hand_over(file, owners)?;
        }
        Ok(layout)
    }

    pub fn expand(&self, text: &str) -> String {
        lab::expand(text, &self.values)
    }

    fn make(&mut self, file: &CorpusFile) -> Result<(), LayoutError> {
        let path = self.run.join(self.expand(&file.path));
        let mut content = None;
        match &file.kind {
            FileKind::Content(text) => {
                let text = self.expand(text);
                fs::write(&path, &text).map_err(err("write", &path))?;
                chmod(&path, file.mode)?;
                content = Some(text);
            }
            FileKind::Dir => mkdir(&path, file.mode)?,
            FileKind::Link { target, .. } => {
                symlink(self.expand(target), &path).map_err(err("create link", &path))?;
            }
            FileKind::Fifo => {
                nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(file.mode))
                    .map_err(|errno| err("create FIFO", &path)(errno.into()))?;
                chmod(&path, file.mode)?;
            }
        }
        self.files.insert(file.id.clone(), (path, content));
        Ok(())
    }

    fn hand_over(&self, file: &CorpusFile, owners: &Owners) -> Result<(), LayoutError> {
        let user = match file.owner {
            FileOwner::Owner => owners.owner.as_ref(),
            FileOwner::Confined => owners.of("confined"),
            FileOwner::Grader => None,
        };
        let (Some(user), Some((path, _))) = (user, self.files.get(&file.id)) else {
            return Ok(());
        };
        let gid = match &file.group {
            Some(name) => uzers::get_group_by_name(name)
                .map(|g| g.gid())
                .ok_or_else(|| LayoutError {
                    what: "find the group for",
                    path: path.clone(),
                    error: io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("no group named `{name}`"),
                    ),
                })?,
            None => user.gid,
        };
        lchown(path, Some(user.uid), Some(gid)).map_err(err("change the owner of", path))
    }

    /// The expanded path of a file.
    pub fn path_of(&self, id: &str) -> Option<&Path> {
        self.files.get(id).map(|(p, _)| p.as_path())
    }

    /// The content this run gave a regular file.
    pub fn content_of(&self, id: &str) -> Option<&str> {
        self.files.get(id).and_then(|(_, c)| c.as_deref())
    }

    /// Removes the whole tree; also done on drop, where errors can only be ignored.
    pub fn remove(mut self) -> Result<(), LayoutError> {
        self.removed = true;
        remove_tree(&self.root)
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        if !self.removed {
            let _ = remove_tree(&self.root);
        }
    }
}

fn remove_tree(root: &Path) -> Result<(), LayoutError> {
    take_back(root);
    fs::remove_dir_all(root).map_err(err("remove", root))
}

/// Gives every entry back to the grader and opens directories up, without following links, so
/// the removal needs no privilege beyond CAP_CHOWN.
fn take_back(path: &Path) {
    let me = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let _ = lchown(path, Some(me.0), Some(me.1));
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let _ = fs::set_permissions(
            path,
            fs::Permissions::from_mode((meta.permissions().mode() & 0o7777) | 0o700),
        );
        if let Ok(entries) = fs::read_dir(path) {
            for entry in entries.flatten() {
                take_back(&entry.path());
            }
        }
    }
}
