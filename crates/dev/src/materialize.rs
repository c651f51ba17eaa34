//! Making one corpus entry's submission directory: a copy of its base, the base's own edits, then
//! the entry's, with the runner's placeholders (`@@PORT@@`, `@@VICTIM_BUILD@@`) filled in. The
//! result looks like a checkout: directories 0755, files readable by everyone.
//!
//! Writes only below the destination it is given; never touches the base.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::manifest::{Corpus, Edit, Entry};

/// Placeholder name (without the `@@`) -> value.
pub type Values = BTreeMap<&'static str, String>;

/// Writes the submission of `entry` into `dest` (which must not exist yet).
pub fn materialize(
    corpus: &Corpus,
    entry: &Entry,
    dest: &Path,
    values: &Values,
) -> Result<(), String> {
    let base = corpus.base_of(entry);
    let io = |what: &str, path: &Path, e: std::io::Error| format!("{what} {}: {e}", path.display());
    fs::create_dir_all(dest).map_err(|e| io("create", dest, e))?;
    if base.copy.is_empty() {
        copy_tree(&base.dir, dest)?;
    } else {
        for part in &base.copy {
            let from = base.dir.join(part);
            let to = dest.join(part);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
            }
            if from.is_dir() {
                copy_tree(&from, &to)?;
            } else {
                fs::copy(&from, &to).map_err(|e| io("copy", &from, e))?;
            }
        }
    }
    for edit in base.edits.iter().chain(&entry.edits) {
        apply(corpus, dest, edit, values).map_err(|e| format!("entry `{}`: {e}", entry.name))?;
    }
    open_up(dest)
}

fn apply(corpus: &Corpus, dest: &Path, edit: &Edit, values: &Values) -> Result<(), String> {
    let path = dest.join(&edit.file);
    let shown = edit.file.display();
    if let (Some(old), Some(new)) = (&edit.replace, &edit.with) {
        let text = fs::read_to_string(&path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        if !text.contains(old.as_str()) {
            return Err(format!("{shown} does not contain {old:?}"));
        }
        let new = fill(new, values)?;
        fs::write(&path, text.replacen(old.as_str(), &new, 1))
            .map_err(|e| format!("cannot write {shown}: {e}"))?;
    }
    if let Some(from) = &edit.from {
        let source = corpus.dir.join(from);
        let text = fs::read_to_string(&source)
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {shown}'s folder: {e}"))?;
        }
        fs::write(&path, fill(&text, values)?).map_err(|e| format!("cannot write {shown}: {e}"))?;
    }
    if edit.link.is_some() || edit.fifo {
        let _ = fs::remove_file(&path);
        if let Some(target) = &edit.link {
            std::os::unix::fs::symlink(target, &path)
                .map_err(|e| format!("cannot link {shown}: {e}"))?;
        } else {
            nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o644))
                .map_err(|e| format!("cannot make the FIFO {shown}: {e}"))?;
        }
    }
    if let Some(mode) = &edit.mode {
        let bits = u32::from_str_radix(mode, 8).map_err(|e| format!("mode {mode}: {e}"))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(bits))
            .map_err(|e| format!("cannot chmod {shown}: {e}"))?;
    }
    Ok(())
}

/// Replaces every `@@NAME@@`; a placeholder without a value is a mistake in the corpus.
fn fill(text: &str, values: &Values) -> Result<String, String> {
    let mut out = text.to_string();
    for (name, value) in values {
        out = out.replace(&format!("@@{name}@@"), value);
    }
    if let Some(start) = out.find("@@") {
        let name: String = out[start + 2..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        if out[start + 2 + name.len()..].starts_with("@@") {
            return Err(format!(
                "placeholder @@{name}@@ has no value here (does the entry lack its probe or victim?)"
            ));
        }
    }
    Ok(out)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let io = |what: &str, path: &Path, e: std::io::Error| format!("{what} {}: {e}", path.display());
    fs::create_dir_all(to).map_err(|e| io("create", to, e))?;
    for entry in fs::read_dir(from).map_err(|e| io("read", from, e))? {
        let entry = entry.map_err(|e| io("read", from, e))?;
        let name = entry.file_name();
        if name == ".git" || name == "target" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type().map_err(|e| io("inspect", &src, e))?;
        if kind.is_symlink() {
            let target = fs::read_link(&src).map_err(|e| io("read link", &src, e))?;
            std::os::unix::fs::symlink(target, &dst).map_err(|e| io("link", &dst, e))?;
        } else if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(|e| io("copy", &src, e))?;
        }
    }
    Ok(())
}

/// Directories 0755 and files readable by everyone, as a checkout would be; set-user-id and other
/// bits an edit gave are kept.
fn open_up(dir: &Path) -> Result<(), String> {
    let io = |path: &Path, e: std::io::Error| format!("chmod {}: {e}", path.display());
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(|e| io(dir, e))?;
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))?.flatten() {
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
        if meta.is_dir() {
            open_up(&path)?;
        } else if meta.is_file() {
            let mode = meta.permissions().mode() | 0o444;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode))
                .map_err(|e| io(&path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_missing_ones_named() {
        let mut values = Values::new();
        values.insert("PORT", "4242".into());
        assert_eq!(fill("port @@PORT@@;", &values), Ok("port 4242;".into()));
        let missing = fill("x @@VICTIM_BUILD@@", &values).expect_err("no value");
        assert!(missing.contains("@@VICTIM_BUILD@@"), "{missing}");
        assert_eq!(fill("a @@ b", &values), Ok("a @@ b".into()));
    }
}
