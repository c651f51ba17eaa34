//! `grader gradebook merge OUT SHARD_DIR...`: joins the outputs of `grader batch --shard K/N`
//! runs (e.g. the artifacts of GitLab's `parallel: N` jobs) into one output directory, as if one
//! batch had graded the whole class: one gradebook in the class's order, every student's
//! reports, and a manifest for the whole class.
//!
//! It refuses (and writes nothing) when the shards were graded with different labs, lab files or
//! grader versions, or are shards of different classes: such a gradebook would compare grades
//! that do not compare. Students no shard graded, or that two shards graded, are listed on
//! stderr, and the first shard given wins for a student graded twice. This module never grades;
//! it reads shard outputs and only writes inside OUT.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::gradebook::{Table, unguard};
use super::manifest::Manifest;
use super::outputs::Layout;
use super::roster::Entry;
use super::roster::stem_of;
use super::row::{Row, RowStatus};
use super::shard::Shard;

pub const EXIT_CODES: &str = "\
Exit status:
  0  merged: every student of the class is in exactly one shard
  1  merged, but some students are in no shard given (a shard missing or stopped) or in more
     than one (the first shard given wins); they are listed on stderr
  2  nothing merged: a shard directory without batch.json or gradebook.csv, shards of
     different labs, lab files, grader versions or classes, or an output directory that cannot
     be written";

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Where the merged gradebook, reports and batch.json go (made if missing; not a shard).
    #[arg(value_name = "OUT_DIR")]
    pub out: PathBuf,
    /// The shards' output directories (`grader batch --shard K/N --out DIR`).
    #[arg(value_name = "SHARD_DIR", required = true)]
    pub shards: Vec<PathBuf>,
    /// The lab the shards graded, for the class report (report.html) [default: the built-in lab
    /// the shards' batch.json names]. Must have the shards' lab hash.
    #[arg(long, value_name = "ID|FILE")]
    pub lab: Option<PathBuf>,
}

/// One shard's output, read.
#[derive(Debug)]
struct Part {
    dir: PathBuf,
    manifest: Manifest,
    table: Table,
}

impl Part {
    fn label(&self) -> String {
        match self.manifest.shard {
            Some(shard) => format!("shard {shard} ({})", self.dir.display()),
            None => self.dir.display().to_string(),
        }
    }
}

/// What the merge found besides the rows.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Student -> the shard that should have graded them.
    pub missing: Vec<(String, String)>,
    /// Student -> every shard that graded them (the first one kept).
    pub twice: Vec<(String, Vec<String>)>,
}

pub fn main(args: &MergeArgs, catalog: &engine::Catalog) -> ExitCode {
    super::reported(run(args, catalog), |findings| {
        for (student, shard) in &findings.missing {
            eprintln!("merge: missing: {student} (no row; it belongs to {shard})");
        }
        for (student, shards) in &findings.twice {
            eprintln!(
                "merge: graded twice: {student} in {} (kept the first)",
                shards.join(" and ")
            );
        }
        findings.missing.is_empty() && findings.twice.is_empty()
    })
}

fn read_part(dir: &Path) -> Result<Part, String> {
    let manifest = Manifest::read(dir).map_err(|e| e.to_string())?;
    let file = dir.join("gradebook.csv");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        format!(
            "cannot read {}: {e}\n  fix: give the shard's whole output directory",
            file.display()
        )
    })?;
    let table = Table::read(&text).map_err(|e| {
        format!(
            "{} cannot be read: {e}\n  fix: regrade that shard",
            file.display()
        )
    })?;
    Ok(Part {
        dir: dir.to_path_buf(),
        manifest,
        table,
    })
}

/// Refuses parts that must not be joined; says which field differs and where.
fn refuse_mismatch(parts: &[Part]) -> Result<(), String> {
    let Some(first) = parts.first() else {
        return Err("no shards to merge".to_string());
    };
    type Field = fn(&Part) -> String;
    let fields: [(&str, Field); 5] = [
        ("lab", |p| p.manifest.lab.clone()),
        ("lab hash", |p| p.manifest.lab_hash.clone()),
        ("grader version", |p| p.manifest.grader_version.clone()),
        ("shard count", |p| {
            p.manifest
                .shard
                .map_or("none".into(), |s| s.count.to_string())
        }),
        ("gradebook columns", |p| p.table.header.join(",")),
    ];
    for (what, get) in fields {
        let want = get(first);
        if let Some(other) = parts.iter().find(|p| get(p) != want) {
            return Err(format!(
                "the shards differ in their {what}: `{want}` in {} but `{}` in {}\n  fix: merge only shards of one class graded by the same grader with the same lab; regrade the odd one out",
                first.label(),
                get(other),
                other.label()
            ));
        }
    }
    if let Some(other) = parts
        .iter()
        .find(|p| p.manifest.class != first.manifest.class)
    {
        return Err(format!(
            "{} and {} are shards of different classes (their rosters differ)\n  fix: grade every shard from the same roster or the same list of directories",
            first.label(),
            other.label()
        ));
    }
    Ok(())
}

pub fn run(args: &MergeArgs, catalog: &engine::Catalog) -> Result<Findings, String> {
    let parts: Vec<Part> = args
        .shards
        .iter()
        .map(|d| read_part(d))
        .collect::<Result<_, _>>()?;
    refuse_mismatch(&parts)?;
    let out_abs = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    for part in &parts {
        if std::path::absolute(&part.dir).is_ok_and(|d| d == out_abs) {
            return Err(format!(
                "the output directory {} is one of the shards\n  fix: merge into a new directory",
                args.out.display()
            ));
        }
    }
    let first = &parts[0];
    let class = &first.manifest.class;

    // Student -> (part index, row), in the order the parts were given.
    let mut found: BTreeMap<&str, Vec<(usize, &Vec<String>)>> = BTreeMap::new();
    for (index, part) in parts.iter().enumerate() {
        for row in &part.table.rows {
            found
                .entry(part.table.student(row))
                .or_default()
                .push((index, row));
        }
    }
    let mut findings = Findings::default();
    let ids: Vec<&str> = class.iter().map(String::as_str).collect();
    let owner_of: BTreeMap<&str, Shard> = match first.manifest.shard {
        Some(shard) => (1..=shard.count)
            .flat_map(|index| {
                let s = Shard {
                    index,
                    count: shard.count,
                };
                let ids = &ids;
                s.select(ids).into_iter().map(move |i| (ids[i], s))
            })
            .collect(),
        None => BTreeMap::new(),
    };
    let mut rows = Vec::new();
    let mut kept: Vec<(&str, usize)> = Vec::new();
    let in_class: std::collections::HashSet<&str> = ids.iter().copied().collect();
    // The class's order first, then anyone a shard graded who is not in its class list.
    let extra = found.keys().copied().filter(|s| !in_class.contains(s));
    let order: Vec<&str> = ids
        .iter()
        .copied()
        .chain(extra.collect::<Vec<_>>())
        .collect();
    for student in order {
        match found.get(student).map(Vec::as_slice) {
            None | Some([]) => findings.missing.push((
                student.to_string(),
                owner_of
                    .get(student)
                    .map_or("no shard".to_string(), |s| format!("shard {s}")),
            )),
            Some(all @ [(index, row), rest @ ..]) => {
                if !rest.is_empty() {
                    findings.twice.push((
                        student.to_string(),
                        all.iter().map(|(i, _)| parts[*i].label()).collect(),
                    ));
                }
                rows.push((*row).clone());
                kept.push((student, *index));
            }
        }
    }

    let layout = Layout::create(&args.out).map_err(|e| e.to_string())?;
    for (student, index) in &kept {
        copy_reports(&parts[*index].dir, &layout.root, &stem_of(student))?;
    }
    layout.tidy();
    let table = Table {
        header: first.table.header.clone(),
        rows,
    };
    report::write_atomically(&layout.gradebook(), table.render().as_bytes())
        .map_err(|e| e.to_string())?;
    Manifest {
        shard: None,
        shard_rule: None,
        students: kept.iter().map(|(s, _)| (*s).to_string()).collect(),
        ..first.manifest.clone()
    }
    .write(&layout.root)?;
    write_class_report(args, catalog, &layout, &first.manifest, &table);
    println!(
        "merge: {} students from {} shards into {}",
        kept.len(),
        parts.len(),
        layout.gradebook().display()
    );
    Ok(findings)
}

/// The merged class's report.html, as one batch would have written it. Not fatal: a lab that
/// cannot be found (a lab file on another machine) leaves the gradebook merged, says so, and
/// says how to get the report.
fn write_class_report(
    args: &MergeArgs,
    catalog: &engine::Catalog,
    layout: &Layout,
    manifest: &Manifest,
    table: &Table,
) {
    let given = args
        .lab
        .clone()
        .unwrap_or_else(|| PathBuf::from(&manifest.lab));
    let lab = match catalog.load(Some(&given)) {
        Ok(lab) if lab.digest == manifest.lab_hash => lab,
        Ok(lab) => {
            eprintln!(
                "merge: no class report: the lab {} has hash {} but the shards were graded with {}\n  fix: pass the shards' lab file with --lab",
                given.display(),
                lab.digest,
                manifest.lab_hash
            );
            return;
        }
        Err(e) => {
            eprintln!("merge: no class report: {e}\n  fix: pass the shards' lab file with --lab");
            return;
        }
    };
    let rows: Vec<Row> = table
        .rows
        .iter()
        .map(|cells| row_of(table, cells))
        .collect();
    let entries: Vec<Entry> = rows
        .iter()
        .map(|row| Entry {
            student: row.student.clone(),
            dir: row.dir.clone(),
            stem: stem_of(&row.student),
        })
        .collect();
    match crate::class_report::write(layout, &lab, &entries, &rows) {
        Ok(path) => println!("merge: class report: {}", path.display()),
        Err(e) => eprintln!("merge: no class report: {e}"),
    }
}

/// A gradebook line read back as the row it was written from (what the class report needs).
fn row_of(table: &Table, cells: &[String]) -> Row {
    let number = |name: &str| table.cell(cells, name).parse::<f64>().ok();
    let status = match table.cell(cells, "status") {
        "graded" => RowStatus::Graded,
        "error" => RowStatus::Error,
        "infra" => RowStatus::Infra,
        _ => RowStatus::Pending,
    };
    let mut row = Row::pending(
        table.student(cells),
        Path::new(unguard(table.cell(cells, "directory"))),
    );
    row.status = status;
    row.score = number("score");
    row.max = number("max");
    row.grader_version = unguard(table.cell(cells, "grader_version")).to_string();
    row.lab_digest = unguard(table.cell(cells, "lab_hash")).to_string();
    row.seconds = number("seconds");
    row.detail = unguard(table.cell(cells, "detail")).to_string();
    row
}

/// Copies one student's reports (each kind that exists) from a shard's output into OUT, each
/// with one atomic write.
fn copy_reports(from: &Path, to: &Path, stem: &str) -> Result<(), String> {
    for (dir, ext) in [
        ("json", "json"),
        ("junit", "xml"),
        ("reports", "txt"),
        ("logs", "log"),
    ] {
        let source = from.join(dir).join(format!("{stem}.{ext}"));
        let target = to.join(dir).join(format!("{stem}.{ext}"));
        match std::fs::read(&source) {
            Ok(bytes) => report::write_atomically(&target, &bytes).map_err(|e| e.to_string())?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A shard without it has none to give; an older copy must not stay beside it.
                let _ = std::fs::remove_file(&target);
            }
            Err(e) => {
                return Err(format!(
                    "cannot read {}: {e}\n  fix: make the shard's output readable",
                    source.display()
                ));
            }
        }
    }
    Ok(())
}
