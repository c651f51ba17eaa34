//! The lab's proof, with real processes, sockets and uids: every attack works against the
//! starter and fails against the reference. Each broken variant of the reference (data in
//! labs/deputy/variants.toml) is graded by grader/tests/labs.rs through the grader, as root;
//! here its data is checked against the lab's checks and the handout.
//!
//! Trials that drop privileges need root and are marked ignored without it (the runner counts
//! them skipped). Submissions are built once, offline, into `<target>/deputy-lab/`, and copied
//! with the tools into a directory every lab user can reach. Everything synchronises on events
//! (a line on a pipe, a process's exit), and every wait has a deadline.

mod common;

use std::process::ExitCode;

use common::*;
use libtest_mimic::{Arguments, Trial};

fn main() -> ExitCode {
    if std::env::var_os(PIDNS_DRIVER).is_some() {
        return pidns_driver();
    }
    let args = Arguments::from_args();
    let root = nix::unistd::geteuid().is_root();
    let pidns = root && pid_namespaces_work();
    let mut trials = Vec::new();

    for (sub, failing) in [("starter", STARTER_FAILS), ("reference", &[][..])] {
        for check in CHECKS {
            let expect_pass = !failing.contains(&check.id);
            let name = format!("{sub}/{}", check.id);
            let needs_pidns = check.id == "attack-pid-reuse";
            let ignored = !root || (needs_pidns && !pidns);
            let run = check.run;
            trials.push(
                Trial::test(name, move || {
                    let bins = submission(sub)?;
                    judge(check.id, run(&bins), expect_pass)
                })
                .with_ignored_flag(ignored),
            );
        }
    }

    // The broken variants of variants.toml need root to run, and as root grader/tests/labs.rs
    // grades each of them through the grader, whose scenario checks run these same tools: they
    // are graded there once, not here again. Their data is checked here (names, sections).

    trials.push(Trial::test(
        "tools/attack-without-fsd-fails-to-run",
        attack_without_fsd,
    ));
    trials.push(Trial::test("tools/bad-usage-is-exit-2", bad_usage));
    trials.push(Trial::test(
        "tools/launcher-without-programs",
        launcher_without_programs,
    ));
    trials.push(Trial::test(
        "variants/data-names-real-checks",
        variants_name_real_checks,
    ));
    trials.push(Trial::test(
        "handout/hints-name-real-sections",
        hints_name_real_sections,
    ));
    trials.push(Trial::test(
        "handout/points-table-matches-lab",
        points_table_matches,
    ));
    trials.push(Trial::test("handout/replay-starter", replay_starter).with_ignored_flag(!root));
    trials.push(Trial::test("handout/replay-reference", replay_reference).with_ignored_flag(!root));

    libtest_mimic::run(&args, trials).exit_code()
}
