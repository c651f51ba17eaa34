//! Reading a student's submission without trusting it: paths are resolved one component at a
//! time and never through a symbolic link, only regular files are read, and only up to a cap. A
//! submission that links `secret.txt` to `/etc/shadow` gets an error, not the file's contents in
//! the report. Nothing here writes to the submission.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

/// How much of one submission file is read (lab files are small; this bounds a hostile one).
pub const READ_CAP: u64 = 256 << 10;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("{0} does not exist")]
    Missing(String),
    #[error("{0} is a symbolic link; the grader reads only regular files")]
    Symlink(String),
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error("{path} is larger than {cap} bytes")]
    TooLarge { path: String, cap: u64 },
    #[error("{path} cannot be read: {message}")]
    Unreadable { path: String, message: String },
}

/// What a path inside the submission is, without following links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Missing,
    File,
    Dir,
    Symlink,
    Other,
}

/// Looks at `root/rel` component by component; a link anywhere on the way stops the walk.
pub fn entry(root: &Path, rel: &str) -> Entry {
    let mut path = root.to_path_buf();
    let components: Vec<Component<'_>> = Path::new(rel).components().collect();
    for (i, component) in components.iter().enumerate() {
        match component {
            Component::Normal(name) => path.push(name),
            Component::CurDir => continue,
            _ => return Entry::Missing,
        }
        let Ok(meta) = fs::symlink_metadata(&path) else {
            return Entry::Missing;
        };
        let ft = meta.file_type();
        let last = i + 1 == components.len();
        if ft.is_symlink() {
            return Entry::Symlink;
        }
        if !last && !ft.is_dir() {
            return Entry::Missing;
        }
        if last {
            return if ft.is_file() {
                Entry::File
            } else if ft.is_dir() {
                Entry::Dir
            } else {
                Entry::Other
            };
        }
    }
    Entry::Dir
}

/// Reads a regular file inside the submission, refusing links and anything over `READ_CAP`.
pub fn read(root: &Path, rel: &str) -> Result<Vec<u8>, ReadError> {
    match entry(root, rel) {
        Entry::File => {}
        Entry::Missing => return Err(ReadError::Missing(rel.to_string())),
        Entry::Symlink => return Err(ReadError::Symlink(rel.to_string())),
        Entry::Dir | Entry::Other => return Err(ReadError::NotAFile(rel.to_string())),
    }
    let unreadable = |e: std::io::Error| ReadError::Unreadable {
        path: rel.to_string(),
        message: e.to_string(),
    };
    // O_NOFOLLOW closes the window between the look above and the open; O_NONBLOCK keeps a FIFO
    // swapped in meanwhile from blocking the open.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(root.join(rel))
        .map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(rel.to_string()));
    }
    if meta.len() > READ_CAP {
        return Err(ReadError::TooLarge {
            path: rel.to_string(),
            cap: READ_CAP,
        });
    }
    let mut bytes = Vec::new();
    File::take(file, READ_CAP + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    Ok(bytes)
}

pub fn read_text(root: &Path, rel: &str) -> Result<String, ReadError> {
    read(root, rel).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Whether the submission's top-level .gitignore ignores `path` (a trailing `/` means a
/// directory), with git's own matching rules.
pub fn gitignore_ignores(root: &Path, gitignore: &str, path: &str) -> bool {
    let mut builder = ignore::gitignore::GitignoreBuilder::new(root);
    for line in gitignore.lines() {
        // A bad pattern is simply not a match, as in git.
        let _ = builder.add_line(None, line);
    }
    let Ok(matcher) = builder.build() else {
        return false;
    };
    let is_dir = path.ends_with('/');
    let rel = path.trim_end_matches('/');
    matcher
        .matched_path_or_any_parents(PathBuf::from(rel), is_dir)
        .is_ignore()
}

/// Tags present in the submission's git repository, read from the ref files directly (no `git`
/// process runs on student-controlled configuration). None when there is no `.git` directory.
pub fn git_tags(root: &Path, wanted: &[String]) -> Option<Vec<(String, bool)>> {
    if entry(root, ".git") != Entry::Dir {
        return None;
    }
    let packed = read_text(root, ".git/packed-refs").unwrap_or_default();
    Some(
        wanted
            .iter()
            .map(|tag| {
                let loose = entry(root, &format!(".git/refs/tags/{tag}")) == Entry::File;
                let suffix = format!(" refs/tags/{tag}");
                let in_packed = packed.lines().any(|l| l.ends_with(&suffix));
                (tag.clone(), loose || in_packed)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn reads_files_but_never_through_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir(root.join("box")).expect("mkdir");
        fs::write(root.join("box/a.txt"), "A").expect("write");
        symlink("/etc/passwd", root.join("link.txt")).expect("symlink");
        symlink(root.join("box"), root.join("boxlink")).expect("symlink");
        assert_eq!(read_text(root, "box/a.txt"), Ok("A".to_string()));
        assert_eq!(
            read(root, "link.txt"),
            Err(ReadError::Symlink("link.txt".into()))
        );
        assert_eq!(
            read(root, "boxlink/a.txt"),
            Err(ReadError::Symlink("boxlink/a.txt".into()))
        );
        assert_eq!(read(root, "nope"), Err(ReadError::Missing("nope".into())));
        assert_eq!(read(root, "box"), Err(ReadError::NotAFile("box".into())));
        assert_eq!(
            read(root, "../etc/passwd"),
            Err(ReadError::Missing("../etc/passwd".into()))
        );
    }

    #[test]
    fn large_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("big"), vec![b'x'; READ_CAP as usize + 1]).expect("write");
        assert!(matches!(
            read(dir.path(), "big"),
            Err(ReadError::TooLarge { .. })
        ));
    }

    #[test]
    fn gitignore_matching_follows_git() {
        let root = Path::new("/sub");
        assert!(gitignore_ignores(root, "target/\noutput.log\n", "target/"));
        assert!(gitignore_ignores(root, "/target\n*.log\n", "target/"));
        assert!(gitignore_ignores(root, "/target\n*.log\n", "output.log"));
        assert!(!gitignore_ignores(root, "target/\n", "output.log"));
        assert!(!gitignore_ignores(
            root,
            "target/\n!output.log\n",
            "output.log"
        ));
        assert!(!gitignore_ignores(root, "# target/\n", "target/"));
    }

    #[test]
    fn tags_from_loose_and_packed_refs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        assert_eq!(git_tags(root, &["part1".into()]), None);
        fs::create_dir_all(root.join(".git/refs/tags")).expect("mkdir");
        fs::write(root.join(".git/refs/tags/part1"), "abc\n").expect("write");
        fs::write(
            root.join(".git/packed-refs"),
            "# pack-refs\n0123 refs/tags/part2\n",
        )
        .expect("write");
        let tags = git_tags(root, &["part1".into(), "part2".into(), "part3".into()]).expect("repo");
        assert_eq!(
            tags,
            vec![
                ("part1".into(), true),
                ("part2".into(), true),
                ("part3".into(), false)
            ]
        );
    }
}
