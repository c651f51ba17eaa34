//! `grader gradebook export`: a batch gradebook turned into the CSV layout a learning management
//! system imports, one row per roster student.
//!
//! Layouts (see labs/README.md, "Exporting to Canvas or Moodle", for where they come from):
//!
//! - `canvas`: `Student, ID, SIS User ID, SIS Login ID, Section, <assignment>`, then a
//!   `Points Possible` row with the lab's maximum, then one row per student. Canvas matches a
//!   row to a student by `ID`, `SIS User ID` or `SIS Login ID`, so each student needs one.
//! - `moodle`: an identifier column (`Email address`, `Username` or `ID number`, mapped to the
//!   user field of that name in Moodle's "Identify user by") and `<assignment>`, the grade.
//! - `csv`: everything, for anything else: `student, name, sis_id, login, email, section, score,
//!   max, status`.
//!
//! A roster student with no graded row gets an empty grade (never a made-up 0) and is listed on
//! stderr; a gradebook row whose student is not on the roster is listed and left out. This module
//! never writes part of a file: the text is built whole, then written atomically (or to stdout).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::gradebook::Table;
use super::manifest::Manifest;
use super::roster::{self, Person};

pub const EXIT_CODES: &str = "\
Exit status:
  0  written: every roster student has a grade and every gradebook row is on the roster
  1  written, but some roster students have an empty grade (not in the gradebook, or not
     graded: `error`, `pending`) or some gradebook rows are not on the roster; both are listed
     on stderr
  2  nothing written: the gradebook or the roster cannot be read or is malformed, a student
     lacks the identifier the format needs, or the output cannot be written";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, grade.
    Canvas,
    /// Moodle's "Import grades from CSV file": an identifier column and a grade column.
    Moodle,
    /// Every field, one row per roster student.
    Csv,
}

/// The user field Moodle identifies students by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MoodleId {
    /// The roster's `email` column (Moodle's "Email address").
    Email,
    /// The roster's `login` column (Moodle's "Username").
    Username,
    /// The roster's `sis_id` column (Moodle's "ID number").
    Idnumber,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The layout to write.
    #[arg(long, value_enum)]
    pub format: Format,
    /// The batch gradebook: its `gradebook.csv`, or the batch's output directory.
    #[arg(long, value_name = "FILE|DIR")]
    pub gradebook: PathBuf,
    /// The roster: `student_id,directory` lines, or a header naming any of `student, directory,
    /// name, sis_id, login, email, section, lms_id` (the same file `grader batch --roster` reads).
    #[arg(long, value_name = "FILE")]
    pub roster: PathBuf,
    /// Write here (atomically: a reader never sees half a file) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The grade column's name, i.e. the LMS assignment or grade item [default: the lab id from
    /// the batch's batch.json, else `Lab`].
    #[arg(long, value_name = "NAME")]
    pub assignment: Option<String>,
    /// Moodle only: which user field identifies a student.
    #[arg(long, value_enum, default_value = "email")]
    pub moodle_id: MoodleId,
}

/// What did not line up between roster and gradebook.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mismatch {
    /// Roster students with an empty grade, and why.
    pub no_grade: Vec<(String, String)>,
    /// Gradebook students not on the roster.
    pub not_on_roster: Vec<String>,
}

pub fn main(args: &ExportArgs) -> ExitCode {
    super::reported(run(args), |mismatch| {
        report_mismatch(mismatch);
        mismatch.no_grade.is_empty() && mismatch.not_on_roster.is_empty()
    })
}

fn run(args: &ExportArgs) -> Result<Mismatch, String> {
    let file = if args.gradebook.is_dir() {
        args.gradebook.join("gradebook.csv")
    } else {
        args.gradebook.clone()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        format!(
            "cannot read the gradebook {}: {e}\n  fix: give the gradebook.csv (or the output directory) of a `grader batch`",
            file.display()
        )
    })?;
    let table = Table::read(&text).map_err(|e| {
        format!(
            "the gradebook {} cannot be read: {e}\n  fix: give the gradebook.csv a `grader batch` wrote, unedited",
            file.display()
        )
    })?;
    let people = roster::read_people(&args.roster).map_err(|e| e.to_string())?;
    roster::refuse_duplicates(&people).map_err(|e| e.to_string())?;
    let assignment = match &args.assignment {
        Some(name) => name.clone(),
        None => Manifest::read(file.parent().unwrap_or(Path::new(".")))
            .map_or_else(|_| "Lab".to_string(), |m| m.lab),
    };
    let (text, mismatch) = render(args.format, args.moodle_id, &assignment, &people, &table)?;
    match &args.output {
        Some(path) => report::write_atomically(path, text.as_bytes()).map_err(|e| e.to_string())?,
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                // A closed stdout (`| head`) is the reader's choice, not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(format!("cannot write to stdout: {e}"));
                }
                _ => {}
            }
        }
    }
    Ok(mismatch)
}

fn report_mismatch(mismatch: &Mismatch) {
    if !mismatch.no_grade.is_empty() {
        eprintln!(
            "export: {} roster student(s) have an empty grade:",
            mismatch.no_grade.len()
        );
        for (student, why) in &mismatch.no_grade {
            eprintln!("  {student}: {why}");
        }
    }
    if !mismatch.not_on_roster.is_empty() {
        eprintln!(
            "export: {} gradebook row(s) are not on the roster and were left out: {}",
            mismatch.not_on_roster.len(),
            mismatch.not_on_roster.join(", ")
        );
    }
}

/// One roster student's grade: the gradebook's score, or why there is none.
fn grade_of(
    table: &Table,
    rows: &HashMap<&str, &[String]>,
    student: &str,
) -> Result<String, String> {
    let Some(row) = rows.get(student) else {
        return Err("not in the gradebook".to_string());
    };
    let score = table.cell(row, "score");
    if score.is_empty() {
        let status = table.cell(row, "status");
        return Err(format!("not graded (status `{status}`)"));
    }
    Ok(score.to_string())
}

/// The export's whole text and what did not match. Err (nothing to write) when a student lacks
/// the identifier the format needs.
pub fn render(
    format: Format,
    moodle_id: MoodleId,
    assignment: &str,
    people: &[Person],
    table: &Table,
) -> Result<(String, Mismatch), String> {
    let mut rows: HashMap<&str, &[String]> = HashMap::new();
    for row in &table.rows {
        rows.entry(table.student(row)).or_insert(row.as_slice());
    }
    let mut mismatch = Mismatch::default();
    let on_roster: std::collections::HashSet<&str> =
        people.iter().map(|p| p.student.as_str()).collect();
    mismatch.not_on_roster = table
        .rows
        .iter()
        .map(|r| table.student(r))
        .filter(|s| !on_roster.contains(s))
        .map(str::to_string)
        .collect();
    let mut grades = Vec::with_capacity(people.len());
    for person in people {
        match grade_of(table, &rows, &person.student) {
            Ok(grade) => grades.push(grade),
            Err(why) => {
                mismatch.no_grade.push((person.student.clone(), why));
                grades.push(String::new());
            }
        }
    }
    refuse_unidentified(format, moodle_id, people)?;

    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut put = |record: &[&str]| {
        writer
            .write_record(record)
            .map_err(|e| format!("cannot format the export: {e}"))
    };
    match format {
        Format::Canvas => {
            put(&[
                "Student",
                "ID",
                "SIS User ID",
                "SIS Login ID",
                "Section",
                assignment,
            ])?;
            let possible = points_possible(table);
            put(&["Points Possible", "", "", "", "", &possible])?;
            for (person, grade) in people.iter().zip(&grades) {
                let shown = if person.name.is_empty() {
                    &person.student
                } else {
                    &person.name
                };
                put(&[
                    &guard(shown),
                    &person.lms_id,
                    &person.sis_id,
                    &person.login,
                    &guard(&person.section),
                    grade,
                ])?;
            }
        }
        Format::Moodle => {
            put(&[moodle_header(moodle_id), assignment])?;
            for (person, grade) in people.iter().zip(&grades) {
                put(&[moodle_field(moodle_id, person), grade])?;
            }
        }
        Format::Csv => {
            put(&[
                "student", "name", "sis_id", "login", "email", "section", "score", "max", "status",
            ])?;
            for (person, grade) in people.iter().zip(&grades) {
                let row = rows.get(person.student.as_str());
                let cell = |name: &str| row.map_or("", |r| table.cell(r, name));
                put(&[
                    &guard(&person.student),
                    &guard(&person.name),
                    &person.sis_id,
                    &person.login,
                    &person.email,
                    &guard(&person.section),
                    grade,
                    cell("max"),
                    row.map_or("missing", |_| cell("status")),
                ])?;
            }
        }
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| format!("cannot format the export: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| format!("cannot format the export: {e}"))?;
    Ok((text, mismatch))
}

/// The lab's maximum: the largest `max` of the gradebook (every graded row has the same one).
fn points_possible(table: &Table) -> String {
    table
        .rows
        .iter()
        .filter_map(|row| {
            let cell = table.cell(row, "max");
            cell.parse::<f64>().ok().map(|value| (value, cell))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, cell)| cell.to_string())
        .unwrap_or_default()
}

fn moodle_header(id: MoodleId) -> &'static str {
    match id {
        MoodleId::Email => "Email address",
        MoodleId::Username => "Username",
        MoodleId::Idnumber => "ID number",
    }
}

fn moodle_field(id: MoodleId, person: &Person) -> &str {
    match id {
        MoodleId::Email => &person.email,
        MoodleId::Username => &person.login,
        MoodleId::Idnumber => &person.sis_id,
    }
}

/// Refuses an export the LMS could not match to its students.
fn refuse_unidentified(
    format: Format,
    moodle_id: MoodleId,
    people: &[Person],
) -> Result<(), String> {
    let (lacking, need, fix): (Vec<&str>, &str, &str) = match format {
        Format::Csv => return Ok(()),
        Format::Canvas => (
            people
                .iter()
                .filter(|p| p.lms_id.is_empty() && p.sis_id.is_empty() && p.login.is_empty())
                .map(|p| p.student.as_str())
                .collect(),
            "an `lms_id` (Canvas ID), `sis_id` or `login`, by which Canvas matches a row",
            "add an `sis_id` or `login` column to the roster (Canvas's own gradebook export has both)",
        ),
        Format::Moodle => (
            people
                .iter()
                .filter(|p| moodle_field(moodle_id, p).is_empty())
                .map(|p| p.student.as_str())
                .collect(),
            match moodle_id {
                MoodleId::Email => "an `email`",
                MoodleId::Username => "a `login` (Moodle username)",
                MoodleId::Idnumber => "an `sis_id` (Moodle ID number)",
            },
            "fill in that roster column, or choose another field with --moodle-id email|username|idnumber",
        ),
    };
    if lacking.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = lacking.iter().take(10).copied().collect();
    let more = lacking.len().saturating_sub(shown.len());
    Err(format!(
        "{} roster student(s) lack {need}: {}{}\n  fix: {fix}",
        lacking.len(),
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ))
}

/// A display cell a spreadsheet will not run as a formula (the gradebook's own guard).
fn guard(text: &str) -> String {
    super::gradebook::guard(text)
}
