//! The library a submission ships (ipcmon) is the same source as the tools' `proto`, and the
//! IDL copies are equal, so the grader's programs and a student's speak the same protocol.
//! Also: lab.toml's points add up and each hint names a section the handout has.

mod common;

#[test]
fn submission_library_is_the_tools_library() {
    let lab = common::lab();
    for which in ["starter", "reference"] {
        for f in [
            "channel", "codes", "idl", "kernel", "policy", "solution", "wire",
        ] {
            let a = std::fs::read(lab.join(format!("tools/src/proto/{f}.rs"))).expect("proto file");
            let b =
                std::fs::read(lab.join(format!("{which}/ipcmon/src/{f}.rs"))).expect("ipcmon file");
            assert!(
                a == b,
                "{which}/ipcmon/src/{f}.rs differs from tools/src/proto/{f}.rs: copy it over"
            );
        }
        let a = std::fs::read(lab.join("tools/src/lab.idl")).expect("idl");
        let b = std::fs::read(lab.join(format!("{which}/interface/lab.idl"))).expect("idl copy");
        assert!(a == b, "{which}/interface/lab.idl differs");
    }
}

#[test]
fn lab_toml_points_and_hints() {
    let lab = common::lab();
    let text = std::fs::read_to_string(lab.join("lab.toml")).expect("lab.toml");
    let v: toml::Value = toml::from_str(&text).expect("lab.toml parses");
    let checks = v["checks"].as_array().expect("checks");
    let total: i64 = checks
        .iter()
        .map(|c| c["points"].as_integer().unwrap_or(0))
        .sum();
    assert_eq!(total, 30);
    let mut handout = String::new();
    for e in std::fs::read_dir(lab.join("handout")).expect("handout") {
        handout.push_str(&std::fs::read_to_string(e.expect("e").path()).expect("md"));
    }
    let mut hints: Vec<String> = Vec::new();
    for c in checks {
        hints.push(c["hint"].as_str().unwrap_or("").to_owned());
        if let Some(steps) = c.get("steps").and_then(|s| s.as_array()) {
            for s in steps {
                if let Some(h) = s.get("hint").and_then(|h| h.as_str()) {
                    hints.push(h.to_owned());
                }
            }
        }
    }
    for h in hints {
        let Some(i) = h.find("(handout: ") else {
            panic!("hint without a handout section: {h}");
        };
        let sec = h[i + 10..].trim_end_matches([')', '.']);
        let sec = sec.split(')').next().unwrap_or("");
        assert!(
            handout.contains(&format!("## {sec}")),
            "hint names `{sec}`, which no handout heading has"
        );
    }
}
