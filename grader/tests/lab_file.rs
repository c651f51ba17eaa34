//! The lab file reader, with every kind this grader carries: what it accepts and how it names
//! each mistake (file, line, fix).

use std::collections::BTreeMap;

use grader::lab::{Lab, LabError, Problem, digest, expand, placeholders};

const EMBEDDED_IPC_LAB: &str = include_str!("../../labs/ipc/lab.toml");

fn kinds() -> grader::lab::Kinds {
    grader::catalog::registry().kinds().clone()
}

fn problems(text: &str) -> Vec<Problem> {
    match Lab::parse(text, "test.toml", &kinds()) {
        Err(LabError::Invalid { problems, .. }) => problems,
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("expected the lab to be rejected"),
    }
}

/// The embedded lab with one line replaced, to test one mistake at a time.
fn embedded_with(from: &str, to: &str) -> String {
    assert!(
        EMBEDDED_IPC_LAB.contains(from),
        "test setup: `{from}` not in lab.toml"
    );
    EMBEDDED_IPC_LAB.replacen(from, to, 1)
}

#[test]
fn embedded_lab_is_valid_and_worth_25() {
    let lab =
        Lab::parse(EMBEDDED_IPC_LAB, "lab.toml", &kinds()).expect("embedded lab must be valid");
    assert_eq!(lab.name, "ipc");
    let part = |id: &str| {
        lab.checks
            .iter()
            .filter(|c| c.part == id)
            .map(|c| c.points)
            .sum::<f64>()
    };
    assert_eq!(part("submission"), 5.0);
    assert_eq!(part("part1"), 10.0);
    assert_eq!(part("part2"), 10.0);
    assert_eq!(lab.max_points(), 25.0);
    assert_eq!(lab.digest, digest(EMBEDDED_IPC_LAB));
}

#[test]
fn unknown_key_names_the_line() {
    let text = embedded_with(
        "points = 2\nkind = \"build\"",
        "point = 2\nkind = \"build\"",
    );
    let p = problems(&text);
    assert_eq!(p.len(), 1);
    assert!(p[0].message.contains("unknown field `point`"), "{:?}", p[0]);
    let line = text.lines().position(|l| l == "point = 2").expect("line") + 1;
    assert_eq!(p[0].line, line);
}

#[test]
fn bad_signal_negative_points_and_bad_sum_are_all_reported() {
    let text = embedded_with(
        "signal = \"SIGINT\"\nexpect_line",
        "signal = \"SIGINTERRUPT\"\nexpect_line",
    );
    let text = text.replacen(
        "points = 2\nkind = \"idle\"",
        "points = -2\nkind = \"idle\"",
        1,
    );
    let p = problems(&text);
    let messages: Vec<&str> = p.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`SIGINTERRUPT` is not a signal name")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("points must be zero or more")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("part `part1` is worth 10 points but its checks add up to 6")),
        "{messages:?}"
    );
    let sig_line = text
        .lines()
        .position(|l| l.contains("SIGINTERRUPT"))
        .expect("line")
        + 1;
    assert!(p.iter().any(|q| q.line == sig_line));
}

#[test]
fn missing_field_and_unknown_kind() {
    let p = problems(
        "[lab]\nname = \"x\"\ntitle = \"X\"\n[[parts]]\nid = \"a\"\ntitle = \"A\"\npoints = 1\n",
    );
    assert!(
        p[0].message.contains("missing field `checks`"),
        "{:?}",
        p[0]
    );

    let text = embedded_with("kind = \"idle\"", "kind = \"idel\"");
    let p = problems(&text);
    assert!(
        p.iter()
            .any(|q| q.message.contains("unknown check kind `idel`") && q.fix.contains("idle"))
    );
}

#[test]
fn keys_of_another_kind_are_rejected() {
    let text = embedded_with("kind = \"build\"", "kind = \"build\"\nstdin = \"x\"");
    let p = problems(&text);
    assert!(
        p.iter().any(|q| q
            .message
            .contains("`stdin` does not belong to a `build` check")),
        "{p:?}"
    );
}

#[test]
fn unknown_placeholder_program_and_dependency() {
    let text = embedded_with(
        "expect_stdout = \"{treasure}\"",
        "expect_stdout = \"{treasur}\"",
    );
    let text = text.replacen("program = \"cat\"", "program = \"dog\"", 1);
    let text = text.replacen("depends_on = [\"build\"]", "depends_on = [\"biuld\"]", 1);
    let p = problems(&text);
    let messages: Vec<&str> = p.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("unknown placeholder `{treasur}`")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("unknown program `dog`")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("depends on `biuld`")),
        "{messages:?}"
    );
}

#[test]
fn fixtures_cannot_escape() {
    let text = embedded_with("path = \"secret.txt\"", "path = \"../secret.txt\"");
    let p = problems(&text);
    assert!(
        p.iter()
            .any(|q| q.message.contains("leaves the run directory")),
        "{p:?}"
    );
}

#[test]
fn a_build_seed_stays_in_the_lab_directory_and_needs_cargo() {
    let build = "cargo = true            #";
    for bad in ["../reference", "/opt/reference", "", "a/../../b"] {
        let text = embedded_with(build, &format!("seed = \"{bad}\"\ncargo = true  #"));
        let p = problems(&text);
        assert!(
            p.iter().any(|q| q
                .message
                .contains("is not a path inside the lab's directory")),
            "{bad}: {p:?}"
        );
    }
    let text = embedded_with(build, "seed = \"reference\"\ncargo = false  #");
    let p = problems(&text);
    assert!(
        p.iter().any(|q| q.message.contains("needs `cargo = true`")),
        "{p:?}"
    );
    let text = embedded_with(build, "seed = \"reference\"\ncargo = true  #");
    let lab = Lab::parse(&text, "lab.toml", &kinds()).expect("a seed inside the lab is fine");
    assert_eq!(
        lab.build.and_then(|b| b.seed),
        Some(std::path::PathBuf::from("reference"))
    );
}

#[test]
fn error_display_names_file_line_and_fix() {
    let text = embedded_with("timeout = \"5s\"", "timeout = \"5\"");
    let err = Lab::parse(&text, "labs/x.toml", &kinds()).expect_err("invalid");
    let shown = err.to_string();
    assert!(shown.contains("labs/x.toml:"), "{shown}");
    assert!(shown.contains("has no unit"), "{shown}");
    assert!(shown.contains("fix:"), "{shown}");
}

#[test]
fn placeholders_expand() {
    let mut values = BTreeMap::new();
    values.insert("pid".to_string(), "42".to_string());
    assert_eq!(expand("Listener PID: {pid}", &values), "Listener PID: 42");
    assert_eq!(expand("{x} {pid}", &values), "{x} 42");
    assert_eq!(placeholders("{a}/{b}"), vec!["a", "b"]);
}

/// labs/README.md's kinds table is the one the registry generates: it cannot drift.
#[test]
fn the_instructor_guide_lists_every_kind_and_key() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../labs/README.md"))
        .expect("read labs/README.md");
    let generated = grader::catalog::registry().reference_markdown();
    let start = guide
        .find(grader::engine::kind::REFERENCE_START)
        .expect("labs/README.md has the kinds table");
    let shown = &guide[start..start + generated.len().min(guide.len() - start)];
    assert_eq!(
        shown, generated,
        "labs/README.md's kinds table is out of date: replace it with the output of `grader kinds`"
    );
    // Every kind's keys are really read from its parameters (none is empty by accident but build).
    for kind in grader::catalog::registry().kinds().iter() {
        if kind.name() != "build" {
            assert!(
                !kind.keys().is_empty(),
                "kind {} lists no keys",
                kind.name()
            );
        }
    }
}
