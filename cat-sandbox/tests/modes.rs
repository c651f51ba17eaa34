//! Part 2b's three modes on the traversal corpus, one input at a time, run as
//! a real process in a temporary lab: what each mode prints, and which
//! escapes each one lets through. The grader's `depth` command runs the same
//! corpus from labs/ipc/traversal.toml; these tests pin the reference cat's
//! exact lines.

mod lab;

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;

use lab::{Lab, SECRET, TREASURE};

const MODES: [&str; 3] = ["vulnerable", "lexical", "beneath"];
const NEXT_DOOR: &str = "a private file next door";
const TOY: &str = "a toy in the den";
const BENEATH_REFUSAL: &str = "MEOW Leaves the litterbox (kernel refused)";
const LEXICAL_REFUSAL: &str = "MEOW Sandbox escaped (prefix check)";

/// The lab plus the corpus' extra files: a nested file, a link to it, a link
/// pointing out, a sibling directory whose name starts with `litterbox`, and
/// a FIFO.
fn corpus_lab() -> Lab {
    let lab = Lab::new();
    lab.mkdir("litterbox/den");
    lab.write("litterbox/den/toy.txt", TOY, 0o644);
    lab.link("litterbox/to-toy", "den/toy.txt");
    lab.link("litterbox/away", "../secret.txt");
    lab.mkdir("litterbox_evil");
    lab.write("litterbox_evil/x", NEXT_DOOR, 0o600);
    nix::unistd::mkfifo(
        &lab.litterbox().join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .expect("mkfifo");
    lab
}

/// What the cat printed for `stdin` in `mode`, after checking it exited 0
/// with nothing on stderr.
fn printed(lab: &Lab, mode: &str, stdin: impl Into<Vec<u8>>) -> String {
    let output = lab.cat_in(mode).write_stdin(stdin).output().expect("run");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The lab directory as the cat's `getcwd` reports it (the temporary
/// directory may sit behind a link).
fn real_root(lab: &Lab) -> PathBuf {
    fs::canonicalize(lab.root()).expect("canonical lab path")
}

#[test]
fn every_mode_reads_what_is_really_inside() {
    let lab = corpus_lab();
    for mode in MODES {
        for (name, content) in [
            ("treasure.txt", TREASURE),
            ("treasure.txt\n", TREASURE),
            ("treasure.txt\r\n", TREASURE),
            ("den/toy.txt\n", TOY),
            ("to-toy\n", TOY),
            ("den/../treasure.txt\n", TREASURE),
            ("./den//toy.txt\n", TOY),
        ] {
            assert_eq!(
                printed(&lab, mode, name),
                format!("{content}\n"),
                "{mode}: {name:?}"
            );
        }
    }
}

#[test]
fn vulnerable_lets_every_escape_through() {
    let lab = corpus_lab();
    for (name, content) in [
        ("../secret.txt\n", SECRET),
        ("den/../../secret.txt\n", SECRET),
        ("../litterbox_evil/x\n", NEXT_DOOR),
        ("away\n", SECRET),
    ] {
        assert_eq!(
            printed(&lab, "vulnerable", name),
            format!("{content}\n"),
            "{name:?}"
        );
    }
}

#[test]
fn lexical_stops_dot_dot_but_not_a_sibling_or_a_link() {
    let lab = corpus_lab();
    let root = real_root(&lab);
    for name in ["../secret.txt", "den/../../secret.txt"] {
        assert_eq!(
            printed(&lab, "lexical", format!("{name}\n")),
            format!("{LEXICAL_REFUSAL}: {}/secret.txt\n", root.display()),
            "{name}"
        );
    }
    // The string test passes `/lab/litterbox_evil/x`: it begins with
    // `/lab/litterbox`.
    assert_eq!(
        printed(&lab, "lexical", "../litterbox_evil/x\n"),
        format!("{NEXT_DOOR}\n")
    );
    // The check never looks at the file system; the open follows the link.
    assert_eq!(printed(&lab, "lexical", "away\n"), format!("{SECRET}\n"));
}

#[test]
fn beneath_refuses_every_escape_in_the_kernel() {
    let lab = corpus_lab();
    let secret = real_root(&lab).join("secret.txt");
    for name in [
        "../secret.txt".to_owned(),
        "den/../../secret.txt".to_owned(),
        "../litterbox_evil/x".to_owned(),
        "away".to_owned(),
        secret.display().to_string(),
    ] {
        assert_eq!(
            printed(&lab, "beneath", format!("{name}\n")),
            format!("{BENEATH_REFUSAL}: ./litterbox/{name}\n"),
            "{name}"
        );
    }
}

#[test]
fn absolute_names_stay_under_the_litterbox_in_the_string_modes() {
    let lab = corpus_lab();
    let root = real_root(&lab);
    let secret = root.join("secret.txt");
    let name = format!("{}\n", secret.display());
    assert_eq!(
        printed(&lab, "vulnerable", name.as_str()),
        format!(
            "MEOW No such file or directory (os error 2): ./litterbox/{}\n",
            secret.display()
        )
    );
    assert_eq!(
        printed(&lab, "lexical", name.as_str()),
        format!(
            "MEOW No such file or directory (os error 2): {}/litterbox{}\n",
            root.display(),
            secret.display()
        )
    );
}

#[test]
fn every_mode_refuses_what_input_rules_forbid() {
    let lab = corpus_lab();
    for mode in MODES {
        assert_eq!(
            printed(&lab, mode, &b"tre\0asure.txt\n"[..]),
            "MEOW File name contains a NUL byte: ./litterbox/tre\\0asure.txt\n",
            "{mode}"
        );
        let long = printed(&lab, mode, format!("{}\n", "a".repeat(5000)));
        assert!(
            long.starts_with("MEOW Name longer than 4096 bytes") && long.lines().count() == 1,
            "{mode}: {long}"
        );
        // Percent-encoding is not decoded: it is a literal (missing) name.
        let percent = printed(&lab, mode, "..%2fsecret.txt\n");
        assert!(
            percent.starts_with("MEOW No such file or directory (os error 2): ")
                && percent.ends_with("..%2fsecret.txt\n"),
            "{mode}: {percent}"
        );
    }
}

#[test]
fn beneath_refuses_a_fifo_without_waiting_for_a_writer() {
    let lab = corpus_lab();
    // No writer ever opens the FIFO: a blocking open would hang here.
    assert_eq!(
        printed(&lab, "beneath", "pipe\n"),
        "MEOW Not a regular file: ./litterbox/pipe\n"
    );
    assert_eq!(
        printed(&lab, "beneath", "den\n"),
        "MEOW Is a directory: ./litterbox/den\n"
    );
}

#[test]
fn the_string_modes_wait_for_a_fifo_writer() {
    // Proof without sleeping: opening the FIFO for writing completes only
    // once a reader has it open, that is, once the cat is inside its open.
    let lab = corpus_lab();
    for mode in ["vulnerable", "lexical"] {
        let mut child = lab
            .std_cat()
            .args(["--mode", mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start cat");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"pipe\n")
            .expect("send name");
        let mut writer = OpenOptions::new()
            .write(true)
            .open(lab.litterbox().join("pipe"))
            .expect("open the FIFO for writing");
        writer.write_all(b"through the pipe").expect("write");
        drop(writer);
        let mut out = String::new();
        child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read");
        assert!(child.wait().expect("wait").success());
        assert_eq!(out, "through the pipe\n", "{mode}");
    }
}

#[test]
fn as_an_unprivileged_user_no_mode_reaches_a_private_file() {
    if !lab::is_root() {
        println!(
            "SKIPPED: needs root (to run the cat as uid {})",
            lab::NOBODY
        );
        return;
    }
    let lab = corpus_lab();
    for mode in MODES {
        for name in [
            "../secret.txt",
            "../litterbox_evil/x",
            "away",
            "den/../../secret.txt",
        ] {
            let output = lab
                .cat_as_nobody()
                .args(["--mode", mode])
                .write_stdin(format!("{name}\n"))
                .output()
                .expect("run");
            let out = String::from_utf8_lossy(&output.stdout);
            assert!(out.starts_with("MEOW "), "{mode} {name}: {out}");
            assert!(
                !out.contains(SECRET) && !out.contains(NEXT_DOOR),
                "{mode} {name}: {out}"
            );
        }
        let output = lab
            .cat_as_nobody()
            .args(["--mode", mode])
            .write_stdin("to-toy\n")
            .output()
            .expect("run");
        assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{TOY}\n"));
    }
}
