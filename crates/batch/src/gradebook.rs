//! The gradebook: one CSV row per submission, in the order the batch was given them.
//!
//! Columns: `student, directory, status, score, max`, one column per part of the lab (its points),
//! then `grader_version, lab_hash, seconds, detail`. A part whose id is already a column name is
//! written `part:<id>`. Fields are quoted as RFC 4180 says; text fields that a spreadsheet would
//! run as a formula (starting `=`, `+`, `-`, `@`, a tab or a carriage return) get a leading `'`. This module only formats: the
//! file is written with `report::write_atomically`, so a reader never sees half a gradebook.

use std::borrow::Cow;

use super::row::Row;
use report::model::format_points;

const FIRST: [&str; 5] = ["student", "directory", "status", "score", "max"];
const LAST: [&str; 4] = ["grader_version", "lab_hash", "seconds", "detail"];

/// The whole CSV text for `rows`, with one column per part id in `parts` (lab order).
pub fn render(parts: &[String], rows: &[Row]) -> String {
    let mut out = String::new();
    let mut header: Vec<String> = FIRST.iter().map(|s| (*s).to_string()).collect();
    for id in parts {
        let taken = FIRST.contains(&id.as_str()) || LAST.contains(&id.as_str());
        header.push(if taken {
            format!("part:{id}")
        } else {
            id.clone()
        });
    }
    header.extend(LAST.iter().map(|s| (*s).to_string()));
    push_line(&mut out, header.iter().map(|h| field(h)));

    for row in rows {
        let number = |n: Option<f64>| n.map(format_points).unwrap_or_default();
        let mut cells: Vec<String> = vec![
            text(&row.student),
            text(&row.dir.display().to_string()),
            row.status.label().to_string(),
            number(row.score),
            number(row.max),
        ];
        for id in parts {
            // A row that has a score has every part (0 when the report had no check in it).
            let points = row.parts.get(id).copied().or(row.score.map(|_| 0.0));
            cells.push(number(points));
        }
        cells.push(text(&row.grader_version));
        cells.push(text(&row.lab_digest));
        cells.push(row.seconds.map(|s| format!("{s:.2}")).unwrap_or_default());
        cells.push(text(&one_line(&row.detail)));
        push_line(&mut out, cells.iter().map(|c| field(c)));
    }
    out
}

fn push_line<'a>(out: &mut String, cells: impl Iterator<Item = Cow<'a, str>>) {
    let mut first = true;
    for cell in cells {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&cell);
    }
    out.push_str("\r\n");
}

/// A message on one line (`why\n  fix: ...` -> `why; fix: ...`): one row stays one line.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// What starts a formula in the usual spreadsheets (OWASP's CSV injection list).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell that a spreadsheet will not run as a formula (for other CSV files the grader
/// writes, such as the LMS exports).
pub fn guard(value: &str) -> String {
    text(value)
}

/// A text cell that a spreadsheet will not run as a formula.
fn text(value: &str) -> String {
    if value.starts_with(FORMULA_STARTS) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

/// One CSV field: quoted when it holds a comma, a quote, a line break or edge spaces.
fn field(value: &str) -> Cow<'_, str> {
    let needs_quotes =
        value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ');
    if needs_quotes {
        Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(value)
    }
}

/// How long each student's grading took in an earlier gradebook (`seconds`), for scheduling the
/// longest first. Empty when there is none or it cannot be read.
pub fn earlier_seconds(text: &str) -> std::collections::HashMap<String, f64> {
    let records = parse(text);
    let Some((header, rows)) = records.split_first() else {
        return Default::default();
    };
    let column = |name: &str| header.iter().position(|h| h == name);
    let (Some(student), Some(seconds)) = (column("student"), column("seconds")) else {
        return Default::default();
    };
    rows.iter()
        .filter_map(|row| {
            let secs = row.get(seconds)?.parse::<f64>().ok()?;
            Some((unguard(row.get(student)?).to_string(), secs))
        })
        .collect()
}

/// Reads CSV as `render` writes it (quoted fields with doubled quotes, CRLF or LF line ends), with
/// the `csv` crate. A malformed record ends the reading there: what came before it is kept.
pub fn parse(text: &str) -> Vec<Vec<String>> {
    reader(text)
        .records()
        .map_while(Result::ok)
        .map(|record| record.iter().map(str::to_string).collect())
        .collect()
}

fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// Undoes the formula guard `text` added to a cell (`'=x` -> `=x`); other cells are unchanged.
pub fn unguard(cell: &str) -> &str {
    cell.strip_prefix('\'')
        .filter(|rest| rest.starts_with(FORMULA_STARTS))
        .unwrap_or(cell)
}

/// A gradebook read back whole: its header and its rows, each cell as written (guards kept), so
/// that [`Table::render`] writes the same bytes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{0}")]
    Csv(#[from] csv::Error),
    #[error("it is empty (no header line)")]
    Empty,
    #[error("it has no `{0}` column; is it a gradebook `grader batch` wrote?")]
    NoColumn(&'static str),
    #[error("line {line} has {found} cells where the header has {want}")]
    Ragged {
        line: usize,
        found: usize,
        want: usize,
    },
}

impl Table {
    /// Reads a gradebook; every row must have as many cells as the header, and there must be a
    /// `student` column.
    pub fn read(text: &str) -> Result<Table, TableError> {
        let mut records = Vec::new();
        for (index, record) in reader(text).records().enumerate() {
            let record = record?;
            records.push((
                index + 1,
                record.iter().map(str::to_string).collect::<Vec<_>>(),
            ));
        }
        let mut records = records.into_iter();
        let (_, header) = records.next().ok_or(TableError::Empty)?;
        let mut rows = Vec::new();
        for (line, row) in records {
            if row.len() != header.len() {
                return Err(TableError::Ragged {
                    line,
                    found: row.len(),
                    want: header.len(),
                });
            }
            rows.push(row);
        }
        let table = Table { header, rows };
        table
            .column("student")
            .ok_or(TableError::NoColumn("student"))?;
        Ok(table)
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// A row's student id, guard undone.
    pub fn student<'a>(&self, row: &'a [String]) -> &'a str {
        self.column("student")
            .and_then(|i| row.get(i))
            .map_or("", |cell| unguard(cell))
    }

    /// One cell of a row by column name; empty when the column does not exist.
    pub fn cell<'a>(&self, row: &'a [String], name: &str) -> &'a str {
        self.column(name)
            .and_then(|i| row.get(i))
            .map_or("", String::as_str)
    }

    /// The CSV text, quoted exactly as `render` quotes it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        push_line(&mut out, self.header.iter().map(|h| field(h)));
        for row in &self.rows {
            push_line(&mut out, row.iter().map(|c| field(c)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::RowStatus;
    use std::path::Path;

    #[test]
    fn batch_csv_fields_are_escaped() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field(" pad"), "\" pad\"");
        assert_eq!(text("=cmd()"), "'=cmd()");
        for start in ["-2+3", "+1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(text(start), format!("'{start}"), "{start:?}");
        }
        // Text cells only (names, paths, details): scores are numbers and never pass here.
        assert_eq!(text("-1"), "'-1");
        assert_eq!(text("alice"), "alice");
    }

    #[test]
    fn batch_gradebook_has_part_columns_and_blank_scores_for_errors() {
        let parts = vec!["submission".to_string(), "part1".to_string()];
        assert!(render(&["status".to_string()], &[]).contains(",part:status,"));
        let mut good = Row::pending("alice", Path::new("subs/alice"));
        good.status = RowStatus::Graded;
        good.score = Some(12.5);
        good.max = Some(15.0);
        good.parts.insert("submission".into(), 5.0);
        good.parts.insert("part1".into(), 7.5);
        good.grader_version = "0.1.0".into();
        good.lab_digest = "abcd".into();
        good.seconds = Some(1.234);
        good.detail = "GRADE: 12.5/15 (83.33%)".into();
        let mut bad = Row::pending("bob, jr", Path::new("subs/bob"));
        bad.status = RowStatus::Error;
        bad.detail =
            "the submission directory subs/bob does not exist\n  fix: give the path".into();
        let csv = render(&parts, &[good, bad]);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "student,directory,status,score,max,submission,part1,grader_version,lab_hash,seconds,detail"
        );
        assert_eq!(
            lines[1],
            "alice,subs/alice,graded,12.5,15,5,7.5,0.1.0,abcd,1.23,GRADE: 12.5/15 (83.33%)"
        );
        assert_eq!(
            lines[2],
            "\"bob, jr\",subs/bob,error,,,,,,,,the submission directory subs/bob does not exist; fix: give the path"
        );
        assert_eq!(lines[3], "");

        let seconds = earlier_seconds(&csv);
        assert_eq!(seconds.get("alice"), Some(&1.23));
        assert_eq!(seconds.get("bob, jr"), None, "no time, no entry");
        assert!(earlier_seconds("").is_empty());
        assert!(earlier_seconds("not,a\ngradebook\n").is_empty());
    }

    #[test]
    fn batch_gradebook_reads_back_to_the_same_bytes() {
        let mut row = Row::pending("=evil, \"quoted\"", Path::new(" spaced dir"));
        row.status = RowStatus::Infra;
        row.detail = "two\nlines, and a comma".into();
        let mut plain = Row::pending("alice", Path::new("subs/alice"));
        plain.score = Some(3.0);
        let parts = vec!["part1".to_string()];
        let csv = render(&parts, &[row, plain]);
        let table = Table::read(&csv).expect("table");
        assert_eq!(table.render(), csv, "read and written again, byte for byte");
        assert_eq!(table.student(&table.rows[0]), "=evil, \"quoted\"");
        assert_eq!(table.cell(&table.rows[1], "score"), "3");
        assert_eq!(table.cell(&table.rows[1], "no such column"), "");
        assert!(matches!(Table::read(""), Err(TableError::Empty)));
        assert!(matches!(
            Table::read("name\nx\n"),
            Err(TableError::NoColumn("student"))
        ));
        assert!(matches!(
            Table::read("student,score\na\n"),
            Err(TableError::Ragged { line: 2, .. })
        ));
        assert_eq!(unguard("'=x"), "=x");
        assert_eq!(unguard("'plain"), "'plain");
    }
}
