//! The lab as a whole: the reference passes every scenario check of lab.toml, the starter fails
//! the lesson's checks with hints, every broken variant loses exactly the points of its flaw
//! (without root: as root grader/tests/labs.rs grades the variants through the grader), the
//! same plan and seed replay to the same trace, and the FLUSH attack works through the starter
//! but not through the reference. Real processes and real sockets throughout.

mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use common::{binary, checks, grade, lab_dir, variants};

const SEEDS: [u64; 2] = [11, 982_451_653];

#[test]
fn reference_gets_full_marks() {
    let bin = &binary("reference");
    for seed in SEEDS {
        for (id, _, outcome) in grade(bin, seed) {
            let started = Instant::now();
            assert!(
                outcome.is_ok(),
                "reference, seed {seed}, check {id}: {:?}",
                outcome.err()
            );
            let _ = started;
        }
    }
}

#[test]
fn starter_gets_low_marks_with_hints() {
    let bin = &binary("starter");
    let results = grade(bin, SEEDS[0]);
    let passed: BTreeSet<&str> = results
        .iter()
        .filter(|r| r.2.is_ok())
        .map(|r| r.0.as_str())
        .collect();
    assert_eq!(
        passed,
        BTreeSet::from(["forward"]),
        "the starter forwards and nothing else"
    );
    for (id, _, outcome) in &results {
        if let Err(message) = outcome {
            assert!(
                message.contains("FAIL"),
                "{id}: the checker explains its failure: {message}"
            );
        }
    }
    // Points the starter keeps: the two submission checks (its files), the build, forward.
    let all = checks();
    let gitignore =
        std::fs::read_to_string(lab_dir().join("starter/.gitignore")).expect(".gitignore");
    assert!(gitignore.contains("target/") && gitignore.contains("output.log"));
    let ci = std::fs::read_to_string(lab_dir().join("starter/.gitlab-ci.yml")).expect("ci");
    assert!(ci.contains("grade.gitlab-ci.yml"));
    let kept: i64 = all
        .iter()
        .filter(|c| ["gitignore", "ci-file", "build", "forward"].contains(&c.id.as_str()))
        .map(|c| c.points)
        .sum();
    let total: i64 = all.iter().map(|c| c.points).sum();
    assert_eq!((kept, total), (8, 30));
    for c in all
        .iter()
        .filter(|c| c.kind == "scenario" && c.id != "forward")
    {
        assert!(
            c.hint.contains("(handout: "),
            "{}: the hint names a handout section",
            c.id
        );
    }
}

// As root, grader/tests/labs.rs grades every variant through the grader itself, whose scenario
// checks run these same tools: grading them here too would grade each one twice.
#[test]
#[cfg_attr(
    ipc_lab_root,
    ignore = "as root, grader/tests/labs.rs grades the variants through the grader"
)]
fn each_broken_variant_loses_exactly_its_points() {
    let all = checks();
    for v in variants() {
        let bin = &binary(&v.name);
        let results = grade(bin, SEEDS[0]);
        let lost: BTreeSet<String> = results
            .iter()
            .filter(|r| r.2.is_err())
            .map(|r| r.0.clone())
            .collect();
        let want: BTreeSet<String> = v.loses.iter().cloned().collect();
        assert_eq!(
            lost,
            want,
            "variant {} ({}): lost {lost:?}, expected {want:?}; failures: {:#?}",
            v.name,
            v.flaw,
            results.iter().filter(|r| r.2.is_err()).collect::<Vec<_>>()
        );
        for id in &v.loses {
            let check = all.iter().find(|c| &c.id == id).expect("lost check exists");
            let message = results
                .iter()
                .find(|r| &r.0 == id)
                .and_then(|r| r.2.clone().err())
                .unwrap_or_default();
            assert!(
                check.hint.contains(&v.section) || message.contains(&v.section),
                "variant {}: neither the hint of {id} nor the checker's message names ({})",
                v.name,
                v.section
            );
        }
    }
}

#[test]
fn same_plan_and_seed_give_the_same_trace() {
    let bin = &binary("reference");
    let replay = checks()
        .into_iter()
        .find(|c| c.id == "replay")
        .expect("replay check");
    for seed in [1, 2, 3, 4] {
        common::run_check(&replay, bin, seed).expect("same plan, same seed, same trace");
    }
    // and a proxy that mixes in the clock does not replay.
    let clock = &binary("clock-seeded");
    assert!(common::run_check(&replay, clock, 1).is_err());
}

#[test]
fn flush_attack_wipes_the_store_through_the_starter_but_not_the_reference() {
    let enforce = checks()
        .into_iter()
        .find(|c| c.id == "enforce")
        .expect("enforce check");
    let starter =
        common::run_check(&enforce, &binary("starter"), 5).expect_err("starter forwards FLUSH");
    assert!(starter.contains("FLUSH"), "{starter}");
    common::run_check(&enforce, &binary("reference"), 5).expect("the reference denies FLUSH");
}
