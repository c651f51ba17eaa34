//! What the cat prints for each kind of name, run as a real process in a
//! temporary copy of the lab. Every lab outcome, MEOW included, exits 0.

mod lab;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use lab::{Lab, SECRET, TREASURE};
use predicates::prelude::*;

/// Runs the cat on `stdin` and asserts it printed exactly `expected`,
/// nothing on stderr, and exited 0.
fn assert_prints(lab: &Lab, stdin: impl Into<Vec<u8>>, expected: &str) {
    lab.cat()
        .write_stdin(stdin)
        .assert()
        .code(0)
        .stdout(expected.to_owned())
        .stderr("");
}

#[test]
fn prints_the_treasure_with_one_final_newline() {
    let lab = Lab::new();
    assert_prints(&lab, "treasure.txt\n", &format!("{TREASURE}\n"));
}

#[test]
fn the_flaw_works_traversal_prints_the_secret() {
    let lab = Lab::new();
    assert_prints(&lab, "../secret.txt\n", &format!("{SECRET}\n"));
}

#[test]
fn trims_surrounding_whitespace_only() {
    let lab = Lab::new();
    assert_prints(&lab, " \ttreasure.txt \r\n", &format!("{TREASURE}\n"));
    lab.write("litterbox/two words.txt", "spaced", 0o644);
    assert_prints(&lab, "two words.txt\n", "spaced\n");
}

#[test]
fn keeps_a_final_newline_and_prints_empty_files_as_nothing() {
    let lab = Lab::new();
    lab.write("litterbox/lines.txt", "one\ntwo\n", 0o644);
    lab.write("litterbox/empty.txt", "", 0o644);
    assert_prints(&lab, "lines.txt\n", "one\ntwo\n");
    assert_prints(&lab, "empty.txt\n", "");
}

#[test]
fn meow_when_missing() {
    let lab = Lab::new();
    assert_prints(
        &lab,
        "no-such-file.txt\n",
        "MEOW No such file or directory (os error 2): ./litterbox/no-such-file.txt\n",
    );
}

#[test]
fn absolute_names_stay_under_the_litterbox_prefix() {
    // Concatenation, not `Path::join`: only `..` escapes.
    let lab = Lab::new();
    assert_prints(
        &lab,
        "/etc/hostname\n",
        "MEOW No such file or directory (os error 2): ./litterbox//etc/hostname\n",
    );
}

#[test]
fn meow_when_permission_denied() {
    let lab = Lab::new();
    lab.write("litterbox/locked.txt", "you cannot see me", 0o000);
    let expected = "MEOW Permission denied (os error 13): ./litterbox/locked.txt\n";
    // Root reads mode-000 files anyway, so as root the cat runs as an
    // unprivileged uid, the way the lab runs it as garfield.
    let mut cat = if lab::is_root() {
        lab.cat_as_nobody()
    } else {
        lab.cat()
    };
    cat.write_stdin("locked.txt\n")
        .assert()
        .code(0)
        .stdout(expected)
        .stderr("");
}

#[test]
fn as_an_unprivileged_user_the_kernel_stops_the_escape() {
    if !lab::is_root() {
        println!(
            "SKIPPED: needs root (to run the cat as uid {})",
            lab::NOBODY
        );
        return;
    }
    let lab = Lab::new();
    // The same vulnerable code: the treasure is still reachable, the
    // secret (owner-only) is not.
    lab.cat_as_nobody()
        .write_stdin("treasure.txt\n")
        .assert()
        .code(0)
        .stdout(format!("{TREASURE}\n"));
    lab.cat_as_nobody()
        .write_stdin("../secret.txt\n")
        .assert()
        .code(0)
        .stdout("MEOW Permission denied (os error 13): ./litterbox/../secret.txt\n");
}

#[test]
fn meow_for_a_directory() {
    let lab = Lab::new();
    fs::create_dir(lab.litterbox().join("toys")).expect("mkdir");
    assert_prints(&lab, "toys\n", "MEOW Is a directory: ./litterbox/toys\n");
    assert_prints(&lab, ".\n", "MEOW Is a directory: ./litterbox/.\n");
}

#[test]
fn meow_for_an_empty_name() {
    let lab = Lab::new();
    let expected = "MEOW Empty file name: ./litterbox/\n";
    assert_prints(&lab, "\n", expected);
    assert_prints(&lab, "", expected);
    assert_prints(&lab, "  \t \n", expected);
}

#[test]
fn meow_for_a_nul_byte() {
    let lab = Lab::new();
    assert_prints(
        &lab,
        &b"tre\0asure.txt\n"[..],
        "MEOW File name contains a NUL byte: ./litterbox/tre\\0asure.txt\n",
    );
}

#[test]
fn meow_for_non_utf8_showing_the_name_lossily() {
    let lab = Lab::new();
    assert_prints(
        &lab,
        &b"caf\xe9.txt\n"[..],
        "MEOW File name is not valid UTF-8 (bad bytes shown as U+FFFD): ./litterbox/caf\u{FFFD}.txt\n",
    );
}

#[test]
fn meow_for_a_name_over_4096_bytes_on_one_short_line() {
    let lab = Lab::new();
    let name = format!("{}\n", "a".repeat(10_000));
    lab.cat()
        .write_stdin(name)
        .assert()
        .code(0)
        .stderr("")
        .stdout(
        predicate::str::starts_with(
            "MEOW Name longer than 4096 bytes (PATH_MAX); stopped reading stdin: ./litterbox/aaa",
        )
        .and(predicate::str::ends_with("...\n"))
        .and(predicate::function(|out: &str| {
            out.lines().count() == 1 && out.len() < 200
        })),
    );
}

#[test]
fn exactly_4096_bytes_reach_the_kernel() {
    // 4095 letters and the newline fill the limit exactly: the cat must
    // try the open, and the kernel then rejects the 4095-byte component.
    let lab = Lab::new();
    let name = "b".repeat(4095);
    assert_prints(
        &lab,
        format!("{name}\n"),
        &format!("MEOW File name too long (os error 36): ./litterbox/{name}\n"),
    );
}

#[test]
fn meow_with_the_error_text_for_other_io_errors() {
    let lab = Lab::new();
    assert_prints(
        &lab,
        "treasure.txt/inside\n",
        "MEOW Not a directory (os error 20): ./litterbox/treasure.txt/inside\n",
    );
}

#[test]
fn a_newline_inside_the_name_cannot_split_the_meow_line() {
    let lab = Lab::new();
    assert_prints(
        &lab,
        "first\nsecond\n",
        "MEOW No such file or directory (os error 2): ./litterbox/first\\nsecond\n",
    );
}

#[test]
fn an_unwritable_stdout_is_status_1_with_a_message() {
    if !Path::new("/dev/full").exists() {
        println!("SKIPPED: no /dev/full on this system");
        return;
    }
    let lab = Lab::new();
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    // assert_cmd always captures stdout, so this one runs on plain std.
    let mut child = lab
        .std_cat()
        .stdin(Stdio::piped())
        .stdout(full)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cat-sandbox");
    child
        .stdin
        .take()
        .expect("stdin pipe")
        .write_all(b"treasure.txt\n")
        .expect("send name");
    let output = child.wait_with_output().expect("wait for cat-sandbox");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");
}
