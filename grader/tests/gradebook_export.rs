//! `grader gradebook export`: the Canvas, Moodle and plain CSV layouts, byte for byte, from a
//! gradebook and a roster that do not quite match (a student the gradebook lacks, one it could
//! not grade, one it has but the roster does not); and bad input (an unreadable or malformed
//! gradebook, a roster without the identifier a format needs) exits 2 with a fix and leaves the
//! output file as it was.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

/// A gradebook as `grader batch` writes it (CRLF lines, RFC 4180 quoting, formula guards).
const GRADEBOOK: &str = "student,directory,status,score,max,submission,part1,part2,grader_version,lab_hash,seconds,detail\r\n\
alice,subs/alice,graded,25,25,1,14,10,0.1.0,abcd,1.20,GRADE: 25/25 (100.00%)\r\n\
\"bob, jr\",subs/bob,graded,12.5,25,1,11.5,0,0.1.0,abcd,1.30,GRADE: 12.5/25 (50.00%)\r\n\
carol,subs/carol,error,,,,,,0.1.0,abcd,0.01,the submission directory subs/carol does not exist\r\n\
mallory,subs/mallory,graded,3,25,1,2,0,0.1.0,abcd,1.00,GRADE: 3/25 (12.00%)\r\n";

/// alice, bob and carol are in both; dave never submitted; mallory is not on the roster.
const ROSTER: &str = "# exported from the registrar\n\
student,directory,name,sis_id,login,email,section,lms_id\n\
alice,subs/alice,\"Liddell, Alice\",1001,aliddell,alice@uni.edu,A1,501\n\
\"bob, jr\",subs/bob,Bob Junior,1002,bjunior,bob@uni.edu,A1,502\n\
carol,subs/carol,Carol,1003,carol,carol@uni.edu,B2,503\n\
dave,subs/dave,=Dave,1004,dave,dave@uni.edu,B2,504\n";

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(gradebook: &str, roster: &str) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("out")).expect("mkdir");
        std::fs::write(dir.path().join("out/gradebook.csv"), gradebook).expect("gradebook");
        std::fs::write(dir.path().join("roster.csv"), roster).expect("roster");
        Setup { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn export(&self, args: &[&str]) -> Output {
        support::grader()
            .args(["gradebook", "export", "--gradebook"])
            .arg(self.path("out"))
            .arg("--roster")
            .arg(self.path("roster.csv"))
            .args(args)
            .output()
            .expect("run grader gradebook export")
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 1, and stderr names the two students without a grade and the one not on the roster.
fn assert_mismatch_reported(out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let err = stderr(out);
    assert!(err.contains("carol: not graded (status `error`)"), "{err}");
    assert!(err.contains("dave: not in the gradebook"), "{err}");
    assert!(
        err.contains("not on the roster and were left out: mallory"),
        "{err}"
    );
}

#[test]
fn gradebook_export_canvas_layout() {
    let setup = Setup::new(GRADEBOOK, ROSTER);
    let out = setup.export(&["--format", "canvas", "--assignment", "IPC lab"]);
    assert_mismatch_reported(&out);
    assert_eq!(
        stdout(&out),
        "Student,ID,SIS User ID,SIS Login ID,Section,IPC lab\r\n\
         Points Possible,,,,,25\r\n\
         \"Liddell, Alice\",501,1001,aliddell,A1,25\r\n\
         Bob Junior,502,1002,bjunior,A1,12.5\r\n\
         Carol,503,1003,carol,B2,\r\n\
         '=Dave,504,1004,dave,B2,\r\n"
    );
}

#[test]
fn gradebook_export_moodle_layout_by_each_identifier() {
    let setup = Setup::new(GRADEBOOK, ROSTER);
    let out = setup.export(&["--format", "moodle", "--assignment", "IPC lab"]);
    assert_mismatch_reported(&out);
    assert_eq!(
        stdout(&out),
        "Email address,IPC lab\r\nalice@uni.edu,25\r\nbob@uni.edu,12.5\r\ncarol@uni.edu,\r\ndave@uni.edu,\r\n"
    );
    let out = setup.export(&["--format", "moodle", "--moodle-id", "username"]);
    assert_eq!(
        stdout(&out),
        "Username,Lab\r\naliddell,25\r\nbjunior,12.5\r\ncarol,\r\ndave,\r\n",
        "without batch.json beside the gradebook the grade item is `Lab`"
    );
    let out = setup.export(&["--format", "moodle", "--moodle-id", "idnumber"]);
    assert!(
        stdout(&out).starts_with("ID number,Lab\r\n1001,25\r\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn gradebook_export_plain_csv_to_a_file() {
    let setup = Setup::new(GRADEBOOK, ROSTER);
    let file = setup.path("plain.csv");
    let out = setup.export(&["--format", "csv", "--output", file.to_str().expect("utf-8")]);
    assert_mismatch_reported(&out);
    assert_eq!(stdout(&out), "", "with --output nothing goes to stdout");
    assert_eq!(
        std::fs::read_to_string(&file).expect("written"),
        "student,name,sis_id,login,email,section,score,max,status\r\n\
         alice,\"Liddell, Alice\",1001,aliddell,alice@uni.edu,A1,25,25,graded\r\n\
         \"bob, jr\",Bob Junior,1002,bjunior,bob@uni.edu,A1,12.5,25,graded\r\n\
         carol,Carol,1003,carol,carol@uni.edu,B2,,,error\r\n\
         dave,'=Dave,1004,dave,dave@uni.edu,B2,,,missing\r\n"
    );
}

#[test]
fn gradebook_export_of_a_matching_class_exits_0_and_names_the_lab() {
    let gradebook: String = GRADEBOOK
        .split("\r\n")
        .filter(|l| !l.starts_with("carol") && !l.starts_with("mallory"))
        .map(|l| format!("{l}\r\n"))
        .collect::<String>()
        .trim_end_matches("\r\n")
        .to_string()
        + "\r\n";
    let roster = "student,directory,email\nalice,a,alice@uni.edu\n\"bob, jr\",b,bob@uni.edu\n";
    let setup = Setup::new(&gradebook, roster);
    std::fs::write(
        setup.path("out/batch.json"),
        r#"{"format":1,"lab":"shm","lab_hash":"abcd","grader_version":"0.1.0","class":["alice","bob, jr"],"students":["alice","bob, jr"]}"#,
    )
    .expect("manifest");
    let out = setup.export(&["--format", "moodle"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(
        stdout(&out),
        "Email address,shm\r\nalice@uni.edu,25\r\nbob@uni.edu,12.5\r\n"
    );
}

/// Exit 2, a message with a fix, and the output file as it was.
fn assert_refused(setup: &Setup, args: &[&str], says: &str) {
    let file = setup.path("export.csv");
    std::fs::write(&file, "earlier export\n").expect("write");
    let mut all = args.to_vec();
    all.extend(["--output", file.to_str().expect("utf-8")]);
    let out = setup.export(&all);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(says) && err.contains("fix:"),
        "{args:?}: {err}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("still there"),
        "earlier export\n",
        "a refused export leaves the file alone"
    );
}

#[test]
fn gradebook_export_refuses_bad_input_with_a_fix() {
    // Moodle by email, but the roster has no emails.
    let setup = Setup::new(GRADEBOOK, "alice,subs/alice\ncarol,subs/carol\n");
    assert_refused(
        &setup,
        &["--format", "moodle"],
        "2 roster student(s) lack an `email`",
    );
    // Canvas needs an ID, SIS User ID or SIS Login ID to match a row.
    assert_refused(&setup, &["--format", "canvas"], "lack an `lms_id`");

    // A gradebook that is not one.
    let setup = Setup::new("name;points\nalice;3\n", ROSTER);
    assert_refused(&setup, &["--format", "csv"], "no `student` column");
    let setup = Setup::new("student,score\nalice,1,extra\n", ROSTER);
    assert_refused(&setup, &["--format", "csv"], "line 2 has 3 cells");
    // A roster line without a directory or id.
    let setup = Setup::new(GRADEBOOK, "student,email\n,x@uni.edu\n");
    assert_refused(&setup, &["--format", "csv"], ":2: no student id");
    let setup = Setup::new(GRADEBOOK, "alice,subs/a\nalice,subs/b\n");
    assert_refused(
        &setup,
        &["--format", "csv"],
        "two submissions would be filed as `alice`",
    );

    // No gradebook at all.
    let setup = Setup::new(GRADEBOOK, ROSTER);
    std::fs::remove_file(setup.path("out/gradebook.csv")).expect("rm");
    assert_refused(&setup, &["--format", "csv"], "cannot read the gradebook");
    let missing_roster = support::grader()
        .args(["gradebook", "export", "--format", "csv", "--gradebook"])
        .arg(setup.path("out"))
        .arg("--roster")
        .arg(Path::new("/nonexistent/roster.csv"))
        .output()
        .expect("run");
    assert_eq!(missing_roster.status.code(), Some(2));
}

#[test]
fn gradebook_help_documents_exit_codes() {
    for sub in ["export", "merge"] {
        let out = support::grader()
            .args(["gradebook", sub, "--help"])
            .output()
            .expect("help");
        let text = stdout(&out);
        assert!(text.contains("Exit status:"), "{sub}: {text}");
        assert!(text.contains("  2  nothing"), "{sub}: {text}");
    }
    let out = support::grader()
        .args(["batch", "--help"])
        .output()
        .expect("help");
    assert!(stdout(&out).contains("--shard <K/N>"), "{}", stdout(&out));
}
