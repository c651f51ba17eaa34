//! The lesson of Part 3, for real: a client writes another program's name in the header's
//! sender field. Against the starter (policy keyed on that field) the forged call is
//! delivered; against the reference (policy keyed on who holds the channel) it is refused
//! and never reaches the server. Real processes, real SOCK_SEQPACKET channels, run as a lab
//! user when the tests are root.

mod common;

use std::process::Command;

/// Runs one solution: mallory (who may only call Calc.Add) calls Admin.Reset claiming to be
/// alice (who may call anything). Returns (mallory's outcome line, server log).
fn forged_reset(bins: &std::path::Path) -> (serde_json::Value, String) {
    let dir = common::scratch();
    let d = dir.path();
    let tools = common::tools();
    let idl = std::fs::read_to_string(common::lab().join("tools/src/lab.idl")).expect("idl");
    std::fs::write(d.join("lab.idl"), idl).expect("write");
    std::fs::write(
        d.join("policy.txt"),
        "call alice *\ncall mallory Calc.Add\nreply server *\n",
    )
    .expect("write");
    std::fs::write(
        d.join("mallory.script"),
        "call srv-mallory Admin.Reset as=alice\n",
    )
    .expect("write");
    let t = |n: &str| tools.join(n).display().to_string();
    let p = |n: &str| d.join(n).display().to_string();
    let sol = serde_json::json!({
        "idl": "lab.idl", "policy": "policy.txt", "audit": "audit.jsonl",
        "programs": [
            {"name": "server", "command": [t("monitor-server"), "--log", p("server.log")], "daemon": true},
            {"name": "mallory", "command": [t("monitor-client"), "--script", p("mallory.script"), "--out", p("mallory.out")]}
        ],
        "channels": [{"name": "srv-mallory", "client": "mallory", "server": "server"}]
    });
    std::fs::write(d.join("solution.json"), sol.to_string()).expect("write");
    if common::is_root() {
        for e in std::fs::read_dir(d).expect("ls") {
            let e = e.expect("entry");
            std::os::unix::fs::chown(e.path(), Some(common::LAB_UID), Some(common::LAB_UID))
                .expect("chown");
        }
    }
    let mut cmd = Command::new(bins.join("monitor"));
    cmd.arg(d.join("solution.json"));
    if common::is_root() {
        use std::os::unix::process::CommandExt;
        cmd.gid(common::LAB_UID).uid(common::LAB_UID);
    }
    // The monitor ends by itself once mallory's one call has returned (each call has a 5 s
    // deadline in monitor-client), so this wait is bounded.
    let out = cmd.output().expect("run monitor");
    assert!(
        out.status.success(),
        "monitor failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcome = std::fs::read_to_string(d.join("mallory.out")).expect("mallory.out");
    let outcome: serde_json::Value = serde_json::from_str(outcome.trim()).expect("json");
    (
        outcome,
        std::fs::read_to_string(d.join("server.log")).unwrap_or_default(),
    )
}

#[test]
fn forged_sender_name_works_against_the_starter() {
    let bins = common::build("starter", "starter", None);
    let (outcome, log) = forged_reset(&bins);
    assert_eq!(
        outcome["code"], 0,
        "the starter should deliver the forged call: {outcome}"
    );
    assert!(
        log.contains(r#""channel":"srv-mallory""#) && log.contains(r#""sender":"alice""#),
        "{log}"
    );
    let (ok, why) = common::check("forge", &bins, 9);
    assert!(!ok);
    assert!(
        why.contains("claiming to be `alice`") && why.contains("got OK (0)"),
        "{why}"
    );
    assert!(
        why.contains("(handout: 3.3 Identity from the channel)"),
        "{why}"
    );
}

#[test]
fn forged_sender_name_fails_against_the_reference() {
    let bins = common::build("reference", "reference", None);
    let (outcome, log) = forged_reset(&bins);
    assert_eq!(outcome["code"], 8, "EDENIED expected: {outcome}");
    assert!(
        !log.contains("arrived"),
        "nothing may reach the server: {log}"
    );
    let (ok, why) = common::check("forge", &bins, 9);
    assert!(ok, "{why}");
}
