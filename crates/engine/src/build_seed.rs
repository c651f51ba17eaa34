//! Build seeds: a cargo build of a new submission starts from the sealed build output of the
//! lab's own reference (`[build] seed`), so that only the student's crates are compiled and the
//! offline crate set is not built again for every submission (most of a cold build's time).
//!
//! Only the output of the offline crate set is taken (the registry packages of the seed's
//! `Cargo.lock`: their compiled libraries, build-script output and fingerprints), never the
//! reference's own crates: a submission that does not build a program must not find the
//! reference's binary in its place, and its build scripts must not find the reference's code.
//!
//! The seed is taken only from a cache entry the grader can trust: root-owned (sealed after its
//! build), made from exactly the bytes of the seed tree (compared byte for byte, never by the
//! content key alone, which is an index and could be forged), and not in use by another grade
//! (its claim lock is taken shared, without waiting: grades lending it copy side by side, and
//! a seed a grade holds is simply not used). It must never
//! copy from an entry that a student's build could have written, and never make a grade fail:
//! anything unexpected leaves the target directory empty, as it was without a seed.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use lab::Lab;
use sandbox::Identity;

use crate::build_cache;
use crate::grade::Options;
use crate::kind::Registry;

/// Where `GRADER_LAB_ROOT` points: the directory holding the `labs/` tree of the labs built into
/// the grader, so their seeds can be found (the image sets it to where it keeps the labs).
pub const LAB_ROOT_VAR: &str = "GRADER_LAB_ROOT";

/// How many files and bytes a seed's build output may hold.
const MAX_SEED_ENTRIES: usize = 200_000;
const MAX_SEED_BYTES: u64 = 8 << 30;

/// The seed tree of `lab`: `[build] seed` next to the lab file, or, for a lab built into the
/// grader, under [`LAB_ROOT_VAR`]. None when the lab has none or it is not a directory.
pub fn seed_dir(lab: &Lab) -> Option<PathBuf> {
    let seed = lab.build.as_ref()?.seed.as_ref()?;
    let lab_file = match lab.source.strip_prefix("embedded ") {
        Some(file) => PathBuf::from(std::env::var_os(LAB_ROOT_VAR)?).join(file),
        None => PathBuf::from(&lab.source),
    };
    let dir = lab_file.parent()?.join(seed);
    std::fs::symlink_metadata(&dir)
        .is_ok_and(|m| m.is_dir())
        .then_some(dir)
}

/// The cache key of the lab's seed tree, if it has one (kept by `cache_eviction`).
pub fn seed_key(lab: &Lab) -> Option<String> {
    build_cache::content_key(&lab.name, &lab.digest, &seed_dir(lab)?).ok()
}

/// The lab's seed tree when the cache in `cache_dir` holds no trusted build of it yet (a batch
/// grades it first, so every submission after it starts from it). None when there is no seed or
/// its build is already there.
pub fn not_yet_built(lab: &Lab, cache_dir: &Path) -> Option<PathBuf> {
    let dir = seed_dir(lab)?;
    let key = build_cache::content_key(&lab.name, &lab.digest, &dir).ok()?;
    (!trusted(cache_dir, &key, &dir)).then_some(dir)
}

/// Whether the entry `key` holds a build the grader can trust as the seed `dir`'s: the entry,
/// its target directory and its source copy sealed (root's, nobody else may write), and the copy
/// holding exactly the seed's bytes.
fn trusted(cache_dir: &Path, key: &str, dir: &Path) -> bool {
    let entry = cache_dir.join(key);
    let sealed = |p: &Path| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|m| m.is_dir() && m.uid() == 0 && m.mode() & 0o022 == 0)
    };
    [entry.clone(), entry.join("target"), entry.join("build")]
        .iter()
        .all(|p| sealed(p))
        && build_cache::copy_holds(dir, &entry.join("build"))
}

/// Builds the lab's seed into the cache of `opts` when it is not there yet, by running only the
/// lab's build checks on the seed tree (as root; without root there is no sealed seed to use).
/// A grade calls this before it takes the users lock, so the submission's own build then
/// compiles only its crates; every later grade with that cache finds the seed built. Returns
/// how long it took when it built; a failed seed build is not an error of the grade (its build
/// fails the same way and says why).
pub fn build_first(lab: &Lab, registry: &Registry, opts: &Options) -> Option<Duration> {
    if !sandbox::privilege::is_root() {
        return None;
    }
    let seed = not_yet_built(lab, &opts.cache_dir)?;
    let mut build_only = lab.clone();
    build_only.checks.retain(|c| c.is_build());
    if build_only.checks.is_empty() {
        return None;
    }
    let started = Instant::now();
    let mut opts = opts.clone();
    opts.keep_scratch = false;
    opts.notices.clear();
    crate::grade::grade(&build_only, registry, &seed, &opts).ok()?;
    Some(started.elapsed())
}

/// Fills the empty target directory `target` (owned by `owner`) of the cache entry `own_key`
/// with the build output of the lab's seed, when a trusted one exists in `cache_dir`. Returns
/// whether it did; on any failure `target` is left empty and owned by `owner`.
pub fn fill_from_seed(
    lab: &Lab,
    cache_dir: &Path,
    own_key: &str,
    target: &Path,
    owner: &Identity,
) -> bool {
    let Some(dir) = seed_dir(lab) else {
        return false;
    };
    let Ok(seed_key) = build_cache::content_key(&lab.name, &lab.digest, &dir) else {
        return false;
    };
    // The seed's own grade (or a twin of it) builds where it is.
    if own_key == seed_key || own_key.starts_with(&format!("{seed_key}~")) {
        return false;
    }
    // Shared: slots copy from the seed side by side; a grade of the seed excludes them.
    let Some(_claim) = crate::cache_claim::lock_shared_now(cache_dir, &seed_key) else {
        return false;
    };
    if !trusted(cache_dir, &seed_key, &dir) {
        return false;
    }
    let seed_target = cache_dir.join(&seed_key).join("target");
    let Some(crates) = registry_crates(&dir.join("Cargo.lock")) else {
        return false;
    };
    // The empty target is the owner's: root writes into it as its own (a container's root has
    // no CAP_DAC_OVERRIDE), then gives it all back.
    let copied = std::os::unix::fs::lchown(target, Some(0), Some(0))
        .map_err(|source| crate::scratch::ScratchError::Io {
            what: "take back",
            path: target.to_path_buf(),
            source,
        })
        .and_then(|()| copy_crates_output(&seed_target, target, &crates))
        .and_then(|()| crate::scratch::hand_over_tree(target, owner));
    if copied.is_err() {
        let _ = crate::tree_removal::remove_tree(target);
        let _ = std::fs::create_dir(target);
        let _ = crate::scratch::hand_over_tree(target, owner);
        return false;
    }
    true
}

/// The names of the registry packages in a `Cargo.lock`, as cargo spells them in the target
/// directory (`-` for the package, `_` for the crate), without any name a local package has.
fn registry_crates(lock: &Path) -> Option<Vec<String>> {
    let text = crate::nofollow::read_capped(lock, 4 << 20).ok()?;
    let lock: toml::Table = toml::from_str(std::str::from_utf8(&text).ok()?).ok()?;
    let packages = lock.get("package")?.as_array()?;
    let name = |p: &toml::Value| {
        p.get("name")
            .and_then(toml::Value::as_str)
            .map(str::to_string)
    };
    let local: Vec<String> = packages
        .iter()
        .filter(|p| p.get("source").is_none())
        .filter_map(name)
        .collect();
    let mut names: Vec<String> = packages
        .iter()
        .filter(|p| {
            p.get("source")
                .and_then(toml::Value::as_str)
                .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
        })
        .filter_map(name)
        .filter(|n| !local.contains(n))
        .collect();
    names.sort();
    names.dedup();
    Some(names)
}

/// Whether a file name in `deps/`, `build/` or `.fingerprint/` belongs to one of `crates`:
/// `<name>-<hash>...` or `lib<crate>-<hash>...` (cargo's own naming).
fn of_crates(file: &str, crates: &[String]) -> bool {
    let file = file.strip_prefix("lib").map_or(file, |rest| {
        // `libc-<hash>` is the package `libc`, `liblibc-<hash>.rlib` its library.
        if crates.iter().any(|c| file.starts_with(&format!("{c}-"))) {
            file
        } else {
            rest
        }
    });
    crates.iter().any(|c| {
        let krate = c.replace('-', "_");
        file.starts_with(&format!("{c}-")) || file.starts_with(&format!("{krate}-"))
    })
}

/// Copies, for every profile directory of `from` (`release`, `debug`, ...), the entries of
/// `deps`, `build` and `.fingerprint` that belong to `crates` into `to`.
fn copy_crates_output(
    from: &Path,
    to: &Path,
    crates: &[String],
) -> Result<(), crate::scratch::ScratchError> {
    let mut budget = (MAX_SEED_ENTRIES, MAX_SEED_BYTES);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| crate::scratch::ScratchError::Io {
            what: "seed from",
            path,
            source,
        }
    };
    for profile in std::fs::read_dir(from).map_err(io(from))? {
        let profile = profile.map_err(io(from))?;
        if !profile.file_type().map_err(io(from))?.is_dir() {
            continue;
        }
        for part in ["deps", "build", ".fingerprint"] {
            let src_dir = profile.path().join(part);
            if !std::fs::symlink_metadata(&src_dir).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let dst_dir = to.join(profile.file_name()).join(part);
            std::fs::create_dir_all(&dst_dir).map_err(io(&dst_dir))?;
            for entry in std::fs::read_dir(&src_dir).map_err(io(&src_dir))? {
                let entry = entry.map_err(io(&src_dir))?;
                let name = entry.file_name();
                if name.to_str().is_some_and(|n| of_crates(n, crates)) {
                    crate::scratch::copy_exact_entry(
                        &entry.path(),
                        &dst_dir.join(&name),
                        &mut budget,
                    )?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_registry_crates_output_is_taken() {
        let crates = vec![
            "rustix".to_string(),
            "linux-raw-sys".to_string(),
            "libc".to_string(),
        ];
        for name in [
            "librustix-0a1b.rlib",
            "rustix-0a1b.d",
            "rustix-0a1b",
            "liblinux_raw_sys-99.rmeta",
            "linux-raw-sys-99",
            "libc-77",
            "liblibc-77.rlib",
        ] {
            assert!(of_crates(name, &crates), "{name} is a dependency's");
        }
        for name in [
            "server-1234",
            "libipc-55.rlib",
            "libipc-55.so",
            "ipc-55.d",
            "shm-ipc-1",
            "rustixx-1",
            "lib",
        ] {
            assert!(!of_crates(name, &crates), "{name} is the reference's own");
        }
    }

    #[test]
    fn local_packages_are_never_seeded_even_under_a_registry_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = dir.path().join("Cargo.lock");
        std::fs::write(
            &lock,
            "version = 4\n\n[[package]]\nname = \"memmap2\"\nversion = \"0.9.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"shm-ipc\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"rustix\"\nversion = \"1.0.0\"\n",
        )
        .expect("write");
        assert_eq!(registry_crates(&lock), Some(vec!["memmap2".to_string()]));
    }

    #[test]
    fn the_copy_keeps_dependencies_and_drops_the_reference_binaries() {
        let from = tempfile::tempdir().expect("tempdir");
        let to = tempfile::tempdir().expect("tempdir");
        let release = from.path().join("release");
        for dir in [
            "deps",
            "build/rustix-1",
            ".fingerprint/rustix-1",
            ".fingerprint/shm-ipc-2",
            "incremental/x",
        ] {
            std::fs::create_dir_all(release.join(dir)).expect("mkdir");
        }
        for file in [
            "server",
            "deps/librustix-1.rlib",
            "deps/server-2",
            "deps/libipc-2.so",
            "build/rustix-1/output",
        ] {
            std::fs::write(release.join(file), file).expect("write");
        }
        copy_crates_output(from.path(), to.path(), &["rustix".to_string()]).expect("copy");
        let got = to.path().join("release");
        assert!(got.join("deps/librustix-1.rlib").is_file());
        assert!(got.join("build/rustix-1/output").is_file());
        assert!(got.join(".fingerprint/rustix-1").is_dir());
        for gone in [
            "server",
            "deps/server-2",
            "deps/libipc-2.so",
            ".fingerprint/shm-ipc-2",
            "incremental",
        ] {
            assert!(!got.join(gone).exists(), "{gone} must not be seeded");
        }
    }
}
