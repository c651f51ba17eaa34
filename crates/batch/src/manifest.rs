//! `batch.json`, written beside the gradebook: what a batch output directory holds (lab, lab
//! hash, grader version, shard, students), so `grader gradebook merge` can tell shards of one
//! class from outputs that must not be joined. Written atomically after the gradebook; never
//! read for grading.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::shard::Shard;

/// The manifest's file name inside an output directory.
pub const FILE: &str = "batch.json";

/// Bumped when a field changes meaning.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The lab's id (`ipc`, `shm`, ...) and the digest of its definition.
    pub lab: String,
    pub lab_hash: String,
    pub grader_version: String,
    /// `K/N` when this output is one shard of a class; absent for a whole class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// How the class was cut into shards (see `shard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_rule: Option<String>,
    /// Every student of the class, in the order the batch was given them (before sharding).
    pub class: Vec<String>,
    /// The students this output graded, in gradebook order.
    pub students: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "{dir} has no {FILE}: it is not the output of a `grader batch` that records its shard\n  fix: give the --out directories of `grader batch --shard K/N` runs (a grader older than shards does not write {FILE}; regrade with this one)"
    )]
    Missing { dir: PathBuf },
    #[error("cannot read {path}: {why}\n  fix: regrade that shard, or give its intact output")]
    Bad { path: PathBuf, why: String },
}

impl Manifest {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| format!("cannot encode the batch manifest: {e}"))?;
        report::write_atomically(&Self::path(dir), &text).map_err(|e| e.to_string())
    }

    pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::Missing {
                    dir: dir.to_path_buf(),
                });
            }
            Err(e) => {
                return Err(ManifestError::Bad {
                    path,
                    why: e.to_string(),
                });
            }
        };
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| ManifestError::Bad {
            path: path.clone(),
            why: e.to_string(),
        })?;
        if manifest.format != FORMAT {
            return Err(ManifestError::Bad {
                path,
                why: format!(
                    "format {} where this grader reads format {FORMAT}",
                    manifest.format
                ),
            });
        }
        Ok(manifest)
    }
}
