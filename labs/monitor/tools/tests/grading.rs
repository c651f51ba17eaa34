//! The reference passes every check (several seeds), the starter fails exactly the checks
//! of the parts a student must write, and each broken variant of variants.toml fails exactly
//! the checks it lists (without root only: as root grader/tests/labs.rs grades the variants
//! through the grader, which runs this same checker).

mod common;

use common::{build, failing};

#[test]
fn reference_passes_every_check() {
    let bins = build("reference", "reference", None);
    for seed in [1, 2, 0xdead_beef] {
        assert_eq!(failing(&bins, seed), Vec::<&str>::new(), "seed {seed}");
    }
}

#[test]
fn starter_fails_the_student_parts_only() {
    let bins = build("starter", "starter", None);
    for seed in [1, 5] {
        assert_eq!(
            failing(&bins, seed),
            vec![
                "corpus", "matrix", "audit", "reply", "forge", "server", "client"
            ],
            "seed {seed}"
        );
    }
}

#[derive(Debug, serde::Deserialize)]
struct Variant {
    id: String,
    replaces: String,
    file: String,
    loses: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct Variants {
    variants: Vec<Variant>,
}

// As root, grader/tests/labs.rs grades every variant through the grader itself, whose scenario
// checks run this same `monitor-check`: grading them here too would grade each one twice.
#[test]
#[cfg_attr(
    ipc_lab_root,
    ignore = "as root, grader/tests/labs.rs grades the variants through the grader"
)]
fn each_broken_variant_loses_exactly_its_checks() {
    let text = std::fs::read_to_string(common::lab().join("variants.toml")).expect("variants.toml");
    let vs: Variants = toml::from_str(&text).expect("variants.toml parses");
    assert_eq!(vs.variants.len(), 7);
    for v in &vs.variants {
        let bins = build(&v.id, "reference", Some((&v.replaces, &v.file)));
        for seed in [3, 4] {
            let got: Vec<String> = failing(&bins, seed)
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            assert_eq!(got, v.loses, "variant {} (seed {seed})", v.id);
        }
    }
}
