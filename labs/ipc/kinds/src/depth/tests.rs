use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use super::corpus::{Corpus, CorpusError, Expectation, FileKind, Outcome};
use super::layout::Layout;
use super::run::{Tally, classify, meow_reason};
use super::swap::Swapper;
use super::table::{self, Half};
use engine::scratch::Owners;
use lab::{Lab, LabError};
use sandbox::{self, Ending};

fn problems(text: &str) -> Vec<String> {
    match Corpus::parse(text, "test.toml") {
        Err(CorpusError::Invalid { problems, .. }) => problems,
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("expected the corpus to be rejected"),
    }
}

/// The embedded corpus with one piece of text replaced, to test one mistake at a time.
fn corpus_with(from: &str, to: &str) -> String {
    let text = super::EMBEDDED_CORPUS;
    assert!(
        text.contains(from),
        "test setup: `{from}` not in the corpus"
    );
    text.replacen(from, to, 1)
}

#[test]
fn the_corpus_covers_every_input_the_issue_lists() {
    let corpus = Corpus::embedded().expect("the embedded corpus is valid");
    assert_eq!(corpus.modes, ["vulnerable", "lexical", "beneath"]);
    for id in [
        "plain",
        "newline",
        "nested",
        "inside-link",
        "dot-dot",
        "absolute",
        "sibling",
        "nested-dot-dot",
        "outside-link",
        "race",
        "nul",
        "long",
        "percent",
        "fifo",
    ] {
        let case = corpus.case(id).unwrap_or_else(|| panic!("no case {id}"));
        for mode in &corpus.modes {
            assert!(case.expectation(mode, false).is_some(), "{id} {mode}");
        }
    }
    let expect = |id: &str, mode: &str| {
        corpus
            .case(id)
            .and_then(|c| c.expectation(mode, false))
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    // The issue's claims about the string check, as data.
    assert_eq!(expect("dot-dot", "lexical"), "meow");
    assert_eq!(expect("sibling", "lexical"), "escapes");
    assert_eq!(expect("outside-link", "lexical"), "escapes");
    assert_eq!(expect("race", "lexical"), "prints or escapes");
    // And about the confined open: no case may escape it, not even on some runs.
    for case in &corpus.cases {
        let beneath = case.expectation("beneath", false).expect("beneath");
        assert!(!beneath.allows(Outcome::Escapes), "{}", case.id);
    }
    assert!(corpus.case("race").is_some_and(|c| c.is_race()));
}

#[test]
fn the_confined_user_turns_every_escape_into_a_refusal() {
    let e = Expectation::parse("prints or escapes").expect("valid");
    assert_eq!(e.to_string(), "prints or escapes");
    assert_eq!(e.as_confined().to_string(), "prints or meow");
    assert_eq!(
        Expectation::parse("hangs").expect("valid").as_confined(),
        Expectation::one(Outcome::Hangs)
    );
    assert!(
        Expectation::parse("prints or leaks")
            .expect_err("unknown word")
            .contains("`leaks` is not an outcome")
    );
}

#[test]
fn mistakes_in_the_corpus_are_all_reported() {
    let text = corpus_with(
        "expect = { vulnerable = \"escapes\", lexical = \"meow\", beneath = \"meow\" }",
        "expect = { vulnerable = \"escapes\", lexical = \"meow\", safe = \"meow\" }",
    );
    let text = text.replacen("path = \"litterbox/den_{rand}\"", "path = \"../den\"", 1);
    let text = text.replacen("shows = \"toy\"", "shows = \"secret\"", 1);
    let text = text.replacen("swap = \"swap\"", "swap = \"outside-link\"", 1);
    let text = text.replacen("name = \"away_{rand}\"", "name = \"away_{rnd}\"", 1);
    let p = problems(&text);
    let has = |needle: &str| p.iter().any(|m| m.contains(needle));
    assert!(
        has("mode `safe`, which settings.modes does not list"),
        "{p:?}"
    );
    assert!(has("says nothing about mode `beneath`"), "{p:?}");
    assert!(has("path `../den` must be relative"), "{p:?}");
    assert!(
        has("`shows = \"secret\"` must name a file with content inside"),
        "{p:?}"
    );
    assert!(has("`swap = \"outside-link\"` must name a link"), "{p:?}");
    assert!(has("unknown placeholder `{rnd}`"), "{p:?}");
}

#[test]
fn a_toml_mistake_names_its_line() {
    let text = corpus_with("race_runs = 100", "race_runs = 100\nrace_run = 1");
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("unknown field `race_run`"), "{p:?}");
    let line = text
        .lines()
        .position(|l| l == "race_run = 1")
        .expect("line")
        + 1;
    assert!(p[0].starts_with(&format!("line {line}:")), "{p:?}");
}

#[test]
fn stdin_is_expanded_repeated_and_shown_escaped() {
    let corpus = Corpus::embedded().expect("valid");
    let values = BTreeMap::from([
        ("rand".to_string(), "c0ffee00".to_string()),
        ("run".to_string(), "/lab/run".to_string()),
    ]);
    let stdin = |id: &str| corpus.case(id).expect("case").stdin(&values);
    assert_eq!(stdin("plain"), b"treasure.txt");
    assert_eq!(stdin("nested"), b"den_c0ffee00/toy_c0ffee00.txt\n");
    assert_eq!(stdin("absolute"), b"/lab/run/secret.txt\n");
    assert_eq!(stdin("nul"), b"tre\0asure.txt\n");
    assert_eq!(stdin("long").len(), 5001);
    let shown = |id: &str| corpus.case(id).expect("case").shown_input();
    assert_eq!(shown("nul"), "tre\\0asure.txt");
    assert_eq!(shown("long"), "a × 5000");
    assert_eq!(shown("sibling"), "../litterbox_evil_{rand}/x_{rand}.txt");
}

#[test]
fn meow_reasons_drop_the_path_and_the_error_number() {
    assert_eq!(
        meow_reason(" Permission denied (os error 13): ./litterbox/../secret.txt"),
        "Permission denied"
    );
    assert_eq!(
        meow_reason(" Sandbox escaped (prefix check): /lab/secret.txt"),
        "Sandbox escaped (prefix check)"
    );
    assert_eq!(meow_reason(" no path at all"), "no path at all");
}

fn finished(stdout: &str, stderr: &str, ending: Ending) -> sandbox::Outcome {
    sandbox::Outcome {
        ending,
        output: sandbox::Output {
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            ..sandbox::Output::default()
        },
        elapsed: Duration::from_millis(1),
        at_deadline: None,
        left_behind: 0,
    }
}

#[test]
fn layout_and_classification() {
    let corpus = Corpus::embedded().expect("valid");
    let parent = tempfile::tempdir().expect("tempdir");
    let layout = Layout::create(parent.path(), &corpus, &Owners::default()).expect("layout");
    let token = layout.values["rand"].clone();
    assert_eq!(token.len(), 8);
    let run = &layout.run;
    let mode = |p: &str| {
        std::fs::symlink_metadata(run.join(p))
            .expect("laid out")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("secret.txt"), 0o600);
    assert_eq!(mode("litterbox"), 0o775);
    assert_eq!(
        mode(&format!("litterbox_evil_{token}/x_{token}.txt")),
        0o600
    );
    let pipe =
        std::fs::symlink_metadata(run.join(format!("litterbox/pipe_{token}"))).expect("fifo");
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&pipe.file_type()));
    assert_eq!(
        std::fs::read_link(run.join(format!("litterbox/away_{token}"))).expect("link"),
        std::path::Path::new("../secret.txt")
    );
    let secret = layout.content_of("secret").expect("secret").to_string();
    let treasure = layout.content_of("treasure").expect("treasure").to_string();
    let toy = layout.content_of("toy").expect("toy").to_string();
    assert!(secret.contains(&token) && treasure.contains(&token));

    let case = |id: &str| corpus.case(id).expect("case");
    let seen = |stdout: &str, stderr: &str, ending: Ending, id: &str| {
        classify(
            &finished(stdout, stderr, ending),
            &corpus,
            &layout,
            case(id),
        )
    };
    let ok = Ending::Exited(0);
    assert_eq!(
        seen(&format!("{treasure}\n"), "", ok, "plain").outcome,
        Outcome::Prints
    );
    assert_eq!(
        seen(&format!("{secret}\n"), "", ok, "dot-dot").outcome,
        Outcome::Escapes
    );
    // On stderr, or after a MEOW, the secret is still out.
    let leak = seen("MEOW no\n", &secret, ok, "dot-dot");
    assert_eq!(
        (leak.outcome, leak.detail.as_str()),
        (Outcome::Escapes, "printed secret.txt")
    );
    let meow = seen(
        "MEOW Permission denied (os error 13): x\n",
        "",
        ok,
        "dot-dot",
    );
    assert_eq!(
        (meow.outcome, meow.detail.as_str()),
        (Outcome::Meow, "Permission denied")
    );
    assert_eq!(
        seen("", "", Ending::TimedOut, "fifo").outcome,
        Outcome::Hangs
    );
    let wrong = seen(&format!("{toy}\n"), "", ok, "plain");
    assert_eq!(wrong.outcome, Outcome::Other);
    assert!(wrong.detail.contains("wrong file"), "{}", wrong.detail);
    let two_lines = seen("MEOW a\nMEOW b\n", "", ok, "dot-dot");
    assert_eq!(two_lines.outcome, Outcome::Other);
    let crash = seen(
        "",
        "",
        Ending::Signaled(nix::sys::signal::Signal::SIGSEGV),
        "dot-dot",
    );
    assert_eq!(
        (crash.outcome, crash.detail.as_str()),
        (Outcome::Other, "crashed: killed by SIGSEGV")
    );

    let root = layout.root.clone();
    layout.remove().expect("remove");
    assert!(!root.exists());
}

#[test]
fn the_swapper_keeps_the_name_and_flips_the_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink("a", &link).expect("link");
    let swapper = Swapper::start(&link, ["a".into(), "b".into()]);
    let mut seen = std::collections::BTreeSet::new();
    // Synchronise on what is observed, not on time: read until both targets were seen.
    while seen.len() < 2 {
        let target = std::fs::read_link(&link).expect("the name always exists");
        seen.insert(target.display().to_string());
    }
    let swaps = swapper.stop().expect("no failure");
    assert!(swaps >= 1);
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["a", "b"]);
}

fn tally(outcome: Outcome, runs: usize, detail: &str) -> Tally {
    Tally {
        runs,
        counts: BTreeMap::from([(outcome, runs)]),
        details: BTreeMap::from([(outcome, detail.to_string())]),
        ..Tally::default()
    }
}

#[test]
fn the_table_shows_expectations_reasons_and_mismatches() {
    let corpus = Corpus::parse(
        r#"
[settings]
modes = ["a", "b"]
timeout = "1s"
race_runs = 3
[[files]]
id = "box"
path = "litterbox"
dir = true
[[files]]
id = "t"
path = "litterbox/t"
content = "t"
[[cases]]
id = "one"
title = "one | two"
name = "x`y"
shows = "t"
expect = { a = "prints", b = "meow" }
[[cases]]
id = "two"
title = "second"
name = "z"
expect = { a = "escapes", b = "meow" }
"#,
        "inline",
    )
    .expect("valid");
    let owner = Half {
        cells: vec![
            vec![
                tally(Outcome::Prints, 1, ""),
                tally(Outcome::Meow, 1, "Nope"),
            ],
            vec![
                tally(Outcome::Escapes, 1, "printed s"),
                tally(Outcome::Escapes, 1, "printed s"),
            ],
        ],
    };
    let block = table::render(&corpus, &owner, None, "garfield");
    assert!(block.starts_with(table::BEGIN), "{block}");
    assert!(block.ends_with(&format!("{}\n", table::END)), "{block}");
    assert!(
        block.contains("| 1 | ``x`y`` | one \\| two | prints it | MEOW: Nope |"),
        "{block}"
    );
    assert!(
        block
            .contains("| 2 | `z` | second | **ESCAPES** | ✗ escapes (printed s) (expected meow) |"),
        "{block}"
    );
    assert!(block.contains("Not run: the grader switches to garfield only when it runs as root"));
    assert_eq!(
        owner.mismatches(&corpus, false).collect::<Vec<_>>(),
        [(1, 1)]
    );

    let document = format!(
        "# Title\n\nbefore\n{}{}\nafter\n",
        table::BEGIN,
        " -->\n<!-- depth-table:end -->"
    );
    let spliced = table::splice(&document, &block).expect("markers");
    assert_eq!(table::extract(&spliced), Some(block.as_str()));
    assert!(spliced.starts_with("# Title\n\nbefore\n") && spliced.ends_with("\nafter\n"));
    assert_eq!(table::splice("no markers", &block), None);
}

/// labs/ipc/lab-2b.toml, as a file next to its corpus.
fn lab_2b_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lab-2b.toml")
}

/// The engine's kinds and this lab's.
fn kinds() -> lab::Kinds {
    let mut r = engine::Registry::builtin();
    crate::register(&mut r);
    r.kinds().clone()
}

#[test]
fn the_bonus_lab_is_valid_and_worth_5() {
    let lab = Lab::load(&lab_2b_path(), &kinds()).expect("lab-2b.toml is valid");
    assert_eq!(lab.max_points(), 5.0);
    let traversal: Vec<(&str, &str, usize)> = lab
        .checks
        .iter()
        .filter_map(|c| {
            c.params::<crate::traversal::TraversalCheck>()
                .map(|t| (c.id.as_str(), t.expect_mode.as_str(), t.race_runs))
        })
        .collect();
    assert_eq!(
        traversal,
        [
            ("lexical-port", "lexical", 0),
            ("beneath-corpus", "beneath", 0),
            ("beneath-race", "beneath", 1000)
        ]
    );
    // Its corpus is found next to it.
    let corpus = Corpus::for_lab(&lab, "traversal.toml").expect("corpus next to the lab");
    assert!(corpus.source.ends_with("traversal.toml"));
    // The base lab keeps its 25 points: the bonus lives in its own file.
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lab.toml");
    assert_eq!(
        Lab::load(&base, &kinds()).expect("base lab").max_points(),
        25.0
    );
}

#[test]
fn traversal_checks_are_validated() {
    let text = std::fs::read_to_string(lab_2b_path()).expect("read lab-2b.toml");
    let broken = text
        .replacen("expect_mode = \"lexical\"\n", "", 1)
        .replacen("race_runs = 1000", "race_runs = -1", 1)
        .replacen(
            "corpus = \"traversal.toml\"",
            "corpus = \"../traversal.toml\"",
            1,
        )
        .replacen(
            "kind = \"build\"",
            "kind = \"build\"\ncases = [\"race\"]",
            1,
        );
    let problems = match Lab::parse(&broken, "lab-2b.toml", &kinds()) {
        Err(LabError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    };
    let has = |needle: &str| problems.iter().any(|p| p.message.contains(needle));
    assert!(
        has("a `traversal` check needs `expect_mode`"),
        "{problems:?}"
    );
    assert!(has("race_runs -1 is out of range"), "{problems:?}");
    assert!(has("must be a path next to the lab file"), "{problems:?}");
    assert!(
        has("`cases` does not belong to a `build` check"),
        "{problems:?}"
    );
}

#[test]
fn files_of_every_kind_parse() {
    let corpus = Corpus::embedded().expect("valid");
    let kinds: Vec<&str> = corpus
        .files
        .iter()
        .map(|f| match f.kind {
            FileKind::Content(_) => "content",
            FileKind::Dir => "dir",
            FileKind::Link { .. } => "link",
            FileKind::Fifo => "fifo",
        })
        .collect();
    for kind in ["content", "dir", "link", "fifo"] {
        assert!(kinds.contains(&kind), "{kind}");
    }
    assert!(!corpus.file("secret").expect("secret").inside());
    assert!(corpus.file("treasure").expect("treasure").inside());
    assert!(!corpus.file("litterbox").expect("litterbox").inside());
}
