//! Where grading keeps its caches and scratch trees, the offline crate set and the PATH given to
//! student code: the settings `grader grade` and `grader batch` share (flags or `GRADER_*`
//! variables). Reading them runs nothing.

use std::path::PathBuf;

use engine::grade::Options;

/// Where the grader keeps its caches and scratch trees and what student builds get: shared by
/// `grade` and `batch`.
#[derive(Debug, Clone, clap::Args)]
pub struct Environment {
    /// Build caches, one per submission path, so a regrade does not rebuild everything.
    #[arg(long, value_name = "DIR", env = "GRADER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Offline crate set (the output of `cargo vendor`) that student builds use instead of the network.
    #[arg(long, value_name = "DIR", env = "GRADER_VENDOR_DIR")]
    pub vendor_dir: Option<PathBuf>,
    /// Where scratch trees are made [default: the temporary directory].
    #[arg(long, value_name = "DIR", env = "GRADER_SCRATCH_DIR")]
    pub scratch_dir: Option<PathBuf>,
    /// PATH given to student builds and programs [default as root: system directories and /usr/local/cargo/bin].
    #[arg(long, value_name = "PATH", env = "GRADER_TOOL_PATH")]
    pub tool_path: Option<String>,
    /// Build cache entries to keep, the most recently used; older ones are removed after a grade
    /// (every edit graded is an entry of its own) [default: 32; a batch keeps at least its class].
    #[arg(long, value_name = "N", env = "GRADER_CACHE_KEEP")]
    pub cache_keep: Option<usize>,
}

impl Environment {
    /// Grading options with these settings over the defaults.
    pub fn options(&self) -> Options {
        let mut opts = Options::from_defaults();
        if let Some(dir) = &self.cache_dir {
            opts.cache_dir = dir.clone();
        }
        if let Some(dir) = &self.scratch_dir {
            opts.scratch_parent = dir.clone();
        }
        opts.vendor = self.vendor_dir.clone();
        opts.tool_path = self.tool_path.clone().map(Into::into);
        if let Some(keep) = self.cache_keep {
            opts.cache_keep = keep.max(1);
        }
        opts
    }
}
