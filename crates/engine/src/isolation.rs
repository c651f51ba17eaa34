//! What one grading run's pods see (see `sandbox::pod`), and what the report says when the
//! grader cannot make namespaces here.
//!
//! The view hides everything of the machine that holds other students' data or the grader's
//! own: the submission and its siblings (a class directory in a batch), the build cache (but this
//! submission's entry), other scratch trees, whatever the caller names (a batch: every submission
//! and its output), and gives every pod fresh /tmp and /dev/shm. The
//! toolchain, the offline crates and the lab's tools stay readable, never writable.

use std::path::{Path, PathBuf};

use crate::checks::Context;
use crate::grade::Options;
use sandbox::View;

fn canonical(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// The mount view of every check pod of one grading run.
pub fn pod_view(submission: &Path, opts: &Options, ctx: &Context<'_>) -> View {
    let mut hide = Vec::new();
    if let Some(dir) = canonical(submission) {
        // Its siblings are other students' submissions in a class directory.
        if let Some(parent) = dir.parent().filter(|p| p.parent().is_some()) {
            hide.push(parent.to_path_buf());
        }
        hide.push(dir);
    }
    hide.extend(opts.hide.iter().filter_map(|p| canonical(p)));
    hide.extend(canonical(&opts.cache_dir));
    hide.extend(canonical(&opts.scratch_parent));
    let mut writable: Vec<PathBuf> = Vec::new();
    writable.extend(canonical(&ctx.scratch.root));
    writable.extend(canonical(&ctx.scratch.build));
    if let Some(target) = &ctx.build.target_dir {
        writable.extend(target.parent().and_then(canonical));
    }
    let mut read_only: Vec<PathBuf> = std::env::split_paths(&ctx.tool_path)
        .filter_map(|dir| canonical(&dir))
        .collect();
    read_only.extend(ctx.build.vendor.as_deref().and_then(canonical));
    read_only.extend(
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().and_then(canonical)),
    );
    read_only.extend(
        ctx.build
            .passthrough
            .iter()
            .map(|(_, value)| PathBuf::from(value))
            .filter(|p| p.is_absolute())
            .filter_map(|p| canonical(&p)),
    );
    read_only.extend(ctx.build.cargo_home.as_deref().and_then(canonical));
    // A directory shown writable is never hidden itself, only what is around it.
    hide.retain(|h| !writable.contains(h));
    hide.sort();
    hide.dedup();
    View {
        private_tmp: true,
        hide,
        writable,
        read_only,
    }
}

/// One notice per guarantee that does not hold here (empty when pods with namespaces are made).
pub fn missing_notices() -> Vec<String> {
    let isolation = sandbox::isolation();
    if isolation.missing.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "Isolation is weaker here than on a host where the grader may make namespaces: {}. Grade each submission in a container of its own (docker/grade.sh) for the rest.",
        isolation.missing.join("; ")
    )]
}
