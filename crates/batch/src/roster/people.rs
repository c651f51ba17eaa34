//! A roster file's people: `student_id,directory` lines, or a header naming LMS columns (name,
//! SIS id, login, email, section, the LMS's own id) for `grader gradebook export`. Cells are read
//! with the `csv` crate, one line at a time (a roster never has a line break inside a field).
//! This module only reads the roster; it never looks at a submission.

use std::path::{Path, PathBuf};

use super::RosterError;

/// One student of a roster, with what a learning management system may need to recognise them
/// (see `export`). Only `student` is always there; the rest is empty when the roster has no such
/// column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// The id the gradebook shows.
    pub student: String,
    /// The submission directory, relative ones already joined to the roster's directory.
    pub dir: Option<PathBuf>,
    pub name: String,
    pub sis_id: String,
    pub login: String,
    pub email: String,
    pub section: String,
    /// The LMS's own user id (Canvas's `ID`).
    pub lms_id: String,
    /// The roster line it came from, for messages.
    pub line: usize,
}

/// The roster columns a header may name, each with the spellings accepted for it (compared
/// without case, `_`, `-` or spaces).
const COLUMNS: [(&str, &[&str]); 8] = [
    ("student", &["student", "studentid"]),
    (
        "directory",
        &["directory", "dir", "path", "repository", "repo"],
    ),
    ("name", &["name", "fullname", "studentname"]),
    ("sis_id", &["sisid", "sisuserid"]),
    ("login", &["login", "sisloginid", "username"]),
    ("email", &["email", "emailaddress"]),
    ("section", &["section"]),
    ("lms_id", &["lmsid", "canvasid", "id"]),
];

fn column_of(header: &str) -> Option<&'static str> {
    let key: String = header
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    COLUMNS
        .iter()
        .find(|(_, names)| names.contains(&key.as_str()))
        .map(|(column, _)| *column)
}

/// Reads a roster: `student_id,directory` lines (or tab-separated), or, when the first line is a
/// header naming known columns, any of `student, directory, name, sis_id, login, email, section,
/// lms_id` in any order. Blank lines and `#` comments are skipped. Relative directories are
/// relative to the roster's own directory, so a roster can travel with the submissions. Without
/// a `student` column a header's `id`, `sis_id` or `login` column (the first of them) is the id.
pub fn read_people(path: &Path) -> Result<Vec<Person>, RosterError> {
    let text = std::fs::read_to_string(path).map_err(|source| RosterError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut layout: Option<Vec<Option<&'static str>>> = None;
    // A header of more than two columns fixes the separator for the whole file (a tab-separated
    // name may hold a comma); `student,directory` lines may mix commas and tabs, as they always
    // could.
    let mut delimiter: Option<u8> = None;
    let mut out = Vec::new();
    let mut first = true;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || RosterError::BadLine {
            path: path.to_path_buf(),
            line: index + 1,
            text: line.to_string(),
        };
        let cells = split_record(line, delimiter).ok_or_else(bad)?;
        if first && cells.len() > 1 && cells.iter().all(|c| column_of(c).is_some()) {
            // Every cell names a column: a header, and one we must be able to use.
            if header_layout(&cells).is_none() {
                return Err(RosterError::NoIdColumn {
                    path: path.to_path_buf(),
                });
            }
        }
        if std::mem::take(&mut first)
            && let Some(columns) = header_layout(&cells)
        {
            if columns.len() > 2 {
                delimiter = Some(if line.contains('\t') { b'\t' } else { b',' });
            }
            layout = Some(columns);
            continue;
        }
        let person = match &layout {
            None => {
                let [id, dir] = cells.as_slice() else {
                    return Err(bad());
                };
                if id.is_empty() || dir.is_empty() {
                    return Err(bad());
                }
                Person {
                    student: id.clone(),
                    dir: Some(base.join(dir)),
                    line: index + 1,
                    ..Person::default()
                }
            }
            Some(columns) => {
                let mut person = Person {
                    line: index + 1,
                    ..Person::default()
                };
                for (column, cell) in columns.iter().zip(cells) {
                    match column {
                        Some("student") => person.student = cell,
                        Some("directory") if !cell.is_empty() => {
                            person.dir = Some(base.join(cell));
                        }
                        Some("name") => person.name = cell,
                        Some("sis_id") => person.sis_id = cell,
                        Some("login") => person.login = cell,
                        Some("email") => person.email = cell,
                        Some("section") => person.section = cell,
                        Some("lms_id") => person.lms_id = cell,
                        _ => {}
                    }
                }
                if !columns.contains(&Some("student")) {
                    person.student = [&person.lms_id, &person.sis_id, &person.login]
                        .into_iter()
                        .find(|id| !id.is_empty())
                        .cloned()
                        .unwrap_or_default();
                }
                if person.student.is_empty() {
                    return Err(RosterError::NoId {
                        path: path.to_path_buf(),
                        line: index + 1,
                    });
                }
                person
            }
        };
        out.push(person);
    }
    Ok(out)
}

/// The column of each cell when `cells` is a header: every cell a known column name, one of
/// them an id. None for a line of data.
fn header_layout(cells: &[String]) -> Option<Vec<Option<&'static str>>> {
    let columns: Vec<Option<&'static str>> = cells.iter().map(|c| column_of(c)).collect();
    let known = columns.iter().all(Option::is_some);
    let has_id = columns
        .iter()
        .any(|c| matches!(c, Some("student" | "lms_id" | "sis_id" | "login")));
    (known && has_id).then_some(columns)
}

/// Splits one roster line into its cells with the `csv` crate: by `delimiter` when the header
/// fixed one, else comma-separated, or tab-separated when no comma separates anything; a field
/// may be quoted as in CSV (`"Smith, J.",subs/js`, a doubled quote inside quotes is one quote).
/// None when it cannot be read (an unclosed quote).
fn split_record(line: &str, delimiter: Option<u8>) -> Option<Vec<String>> {
    let cells = |delimiter: u8| -> Option<Vec<String>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .trim(csv::Trim::All)
            .quoting(true)
            .from_reader(line.as_bytes());
        let record = reader.records().next()?.ok()?;
        // The csv crate keeps text after a closing quote in the field; a line that does that
        // (`"a"b`) is not one we can read with certainty.
        Some(record.iter().map(str::to_string).collect())
    };
    let unclosed = line.chars().filter(|&c| c == '"').count() % 2 == 1;
    if unclosed {
        return None;
    }
    if let Some(delimiter) = delimiter {
        return cells(delimiter);
    }
    let by_comma = cells(b',')?;
    if by_comma.len() > 1 {
        return Some(by_comma);
    }
    let by_tab = cells(b'\t')?;
    (by_tab.len() > 1).then_some(by_tab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_roster_header_names_lms_columns_in_any_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let roster = dir.path().join("roster.csv");
        std::fs::write(
            &roster,
            "Email Address\tSIS Login ID\tStudent\tSection\tName\tSIS User ID\tCanvas ID\tRepo\n\
             a@u.edu\taa\talice\tA1\t\"Liddell, A\"\t1001\t501\tsubs/a\n\
             b@u.edu\tbb\tbob\t\t\t\t\t\n",
        )
        .expect("write");
        let people = read_people(&roster).expect("roster");
        assert_eq!(people.len(), 2);
        let alice = &people[0];
        assert_eq!(
            (
                alice.student.as_str(),
                alice.email.as_str(),
                alice.login.as_str()
            ),
            ("alice", "a@u.edu", "aa")
        );
        assert_eq!(
            (
                alice.name.as_str(),
                alice.sis_id.as_str(),
                alice.lms_id.as_str()
            ),
            ("Liddell, A", "1001", "501")
        );
        assert_eq!(alice.section, "A1");
        assert_eq!(alice.dir, Some(dir.path().join("subs/a")));
        assert_eq!((people[1].dir.clone(), people[1].line), (None, 3));
        // A batch needs every directory.
        let err = super::super::collect(&[], &[], Some(&roster)).expect_err("no directory");
        assert!(
            matches!(err, RosterError::NoDirectory { line: 3, .. }),
            "{err}"
        );

        // Without a `student` column the Canvas id, then the SIS id, then the login is the id.
        std::fs::write(&roster, "sis_id,email\n1001,a@u.edu\n").expect("write");
        assert_eq!(read_people(&roster).expect("roster")[0].student, "1001");
        std::fs::write(&roster, "name,email\nA,a@u.edu\n").expect("write");
        let err = read_people(&roster).expect_err("a header with no id");
        assert!(matches!(err, RosterError::NoIdColumn { .. }), "{err}");
    }
}
