//! The labs a grader binary carries and the kinds it knows, so `--lab` takes a built-in lab's
//! name as well as a path. The engine only holds the list; which labs are in it is the binary's
//! choice (each lab's file is embedded where the binary is put together).

use std::path::Path;

use lab::{Lab, LabError};

use crate::kind::Registry;

/// A lab file compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinLab {
    /// The name `--lab` accepts, e.g. `ipc`.
    pub id: &'static str,
    /// Where the file lives in the repository, e.g. `labs/ipc/lab.toml`.
    pub file: &'static str,
    /// The file's text.
    pub text: &'static str,
    /// Files every submission of this lab has: a submission that lacks them but has another
    /// built-in lab's is told which `--lab` it needs.
    pub marks: &'static [&'static str],
}

/// Kinds plus built-in labs: everything needed to turn `--lab` into a validated [`Lab`].
#[derive(Debug, Clone)]
pub struct Catalog {
    pub registry: Registry,
    /// The first one is the default lab.
    pub labs: Vec<BuiltinLab>,
}

/// What `--lab` named, when it is neither a file nor a built-in lab.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Lab(#[from] LabError),
    #[error(
        "`{given}` is neither a lab file nor a built-in lab\n  fix: give a path to a lab.toml, or one of: {names} (see `grader labs`)"
    )]
    Unknown { given: String, names: String },
}

impl Catalog {
    /// When `submission` lacks the marks of the built-in lab graded (by its name) but has all of
    /// another built-in lab's, the sentence that says so and names the `--lab` to use.
    pub fn other_edition(&self, graded: &str, submission: &Path) -> Option<String> {
        let has = |marks: &[&str]| {
            !marks.is_empty()
                && marks
                    .iter()
                    .all(|m| std::fs::symlink_metadata(submission.join(m)).is_ok())
        };
        let chosen = self.labs.iter().find(|l| {
            Lab::parse(l.text, l.file, self.registry.kinds()).is_ok_and(|lab| lab.name == graded)
        })?;
        if has(chosen.marks) {
            return None;
        }
        let other = self
            .labs
            .iter()
            .find(|l| l.id != chosen.id && has(l.marks))?;
        Some(format!(
            "This submission has no {} but has {}: it looks like the `{}` lab, not `{}`. Grade it with `--lab {}` (`grader labs` lists the labs).",
            chosen.marks.join(", "),
            other.marks.join(", "),
            other.id,
            chosen.id,
            other.id
        ))
    }

    pub fn builtin(&self, id: &str) -> Option<&BuiltinLab> {
        self.labs.iter().find(|l| l.id == id)
    }

    /// Loads `--lab`: the id of a built-in lab, a path to a lab file, or None for the default.
    pub fn load(&self, given: Option<&Path>) -> Result<Lab, CatalogError> {
        let builtin = match given {
            None => self.labs.first(),
            // A bare built-in id is that lab even when the directory graded from has a file or
            // directory of that name (a submission's `monitor/` crate): `./NAME` means the file.
            Some(name)
                if name.components().count() == 1
                    && self.builtin(&name.to_string_lossy()).is_some() =>
            {
                self.builtin(&name.to_string_lossy())
            }
            Some(path) if path.exists() => {
                return Ok(Lab::load(path, self.registry.kinds())?);
            }
            Some(name) => {
                let name = name.to_string_lossy();
                self.builtin(&name).or_else(|| {
                    // `labs/ipc/lab.toml` from another directory still means the built-in one.
                    self.labs.iter().find(|l| name.ends_with(l.file))
                })
            }
        };
        match builtin {
            Some(b) => Ok(Lab::parse(
                b.text,
                &format!("embedded {}", b.file),
                self.registry.kinds(),
            )?),
            None => Err(CatalogError::Unknown {
                given: given.map_or_else(String::new, |p| p.display().to_string()),
                names: self
                    .labs
                    .iter()
                    .map(|l| l.id)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}
