//! The handout, the lab file and the checkers agree: every `(handout: X.Y Title)` in lab.toml,
//! the variants and the tool sources names a real section, and the points table of 4.2 is the
//! lab's.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

fn sections() -> BTreeSet<String> {
    let dir = common::lab_dir().join("handout");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("handout dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        for line in text.lines() {
            if let Some(title) = line.strip_prefix("## ") {
                out.insert(title.trim().to_owned());
            }
        }
    }
    out
}

fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("(handout: ") {
        rest = &rest[i + "(handout: ".len()..];
        let end = rest.find(')').expect("closing parenthesis");
        // Several sections are separated by ", " before a section number.
        let inner = &rest[..end];
        let mut start = 0;
        for (i, _) in inner.match_indices(", ") {
            if inner[i + 2..].starts_with(|c: char| c.is_ascii_digit()) {
                out.push(inner[start..i].to_owned());
                start = i + 2;
            }
        }
        out.push(inner[start..].to_owned());
        rest = &rest[end..];
    }
    out
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "rs" || e == "toml" || e == "md")
        {
            out.push(path);
        }
    }
}

#[test]
fn every_hint_names_a_real_section() {
    let known = sections();
    let lab = common::lab_dir();
    let mut files = vec![lab.join("lab.toml")];
    for dir in ["tools/src", "tools/tests", "starter/src", "handout"] {
        files_under(&lab.join(dir), &mut files);
    }
    files.push(lab.join("README.md"));
    let mut seen = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for r in references(&text) {
            // Placeholders in prose that explain the notation.
            if r == "X.Y Title" || r.contains('{') || r.contains('"') {
                continue;
            }
            let r = r.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                known.contains(&r),
                "{}: (handout: {r}) is not a section of the handout",
                file.display()
            );
            seen += 1;
        }
    }
    assert!(seen > 30, "found only {seen} references");
}

#[test]
fn the_points_table_is_the_labs() {
    let text =
        std::fs::read_to_string(common::lab_dir().join("handout/4-submission-and-grading.md"))
            .expect("4");
    let table: BTreeSet<(String, i64)> = text
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let id = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((id.to_owned(), cells.get(2)?.parse().ok()?))
        })
        .collect();
    let lab: BTreeSet<(String, i64)> = common::checks()
        .into_iter()
        .map(|c| (c.id, c.points))
        .collect();
    assert_eq!(table, lab);
}
