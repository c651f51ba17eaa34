//! The whitespace policy every output comparison uses, and the choice of hint for a failure.
//!
//! Policy (also printed in reports): Windows line ends (CR LF) count as LF, spaces and tabs at the
//! end of a line are ignored, and blank lines at the very end are ignored. Everything else, letter
//! case, inner spaces and leading spaces included, must match.

use lab::HintRule;
use sandbox::{Ending, Output};

pub const POLICY: &str = "line ends (CR LF or LF), spaces at the end of a line and blank lines at the end are ignored; everything else must match";

/// Text under the policy.
pub fn normalise(text: &str) -> String {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', ' ', '\t']))
        .collect();
    let mut out = lines.join("\n");
    let trimmed = out.trim_end_matches('\n').len();
    out.truncate(trimmed);
    out
}

/// Whether `output` holds `line` as one of its lines, under the policy.
pub fn has_line(output: &str, line: &str) -> bool {
    let want = normalise(line);
    normalise(output).split('\n').any(|l| l == want)
}

pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The first hint rule whose every condition holds, else None.
pub fn pick_hint<'a>(
    rules: &'a [HintRule],
    output: &Output,
    ending: Option<Ending>,
) -> Option<&'a str> {
    let stdout = lossy(&output.stdout);
    let stderr = lossy(&output.stderr);
    rules
        .iter()
        .find(|r| {
            r.stdout_empty
                .is_none_or(|want| stdout.trim().is_empty() == want)
                && r.stderr_empty
                    .is_none_or(|want| stderr.trim().is_empty() == want)
                && r.stdout_contains
                    .as_ref()
                    .is_none_or(|t| stdout.contains(t.as_str()))
                && r.stdout_starts_with
                    .as_ref()
                    .is_none_or(|t| stdout.starts_with(t.as_str()))
                && r.stderr_contains
                    .as_ref()
                    .is_none_or(|t| stderr.contains(t.as_str()))
                && r.exit_code
                    .is_none_or(|code| ending == Some(Ending::Exited(code)))
                && r.timed_out
                    .is_none_or(|want| (ending == Some(Ending::TimedOut)) == want)
        })
        .map(|r| r.hint.as_str())
}

/// One line describing how a program ended, for summaries.
pub fn describe_ending(ending: Ending) -> String {
    match ending {
        Ending::Exited(code) => format!("exited with status {code}"),
        Ending::Signaled(sig) => format!("was killed by {}", sig.as_str()),
        Ending::TimedOut => "did not finish before its deadline and was killed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_ignores_line_ends_and_trailing_space_only() {
        assert_eq!(normalise("Treasure found!\r\n"), "Treasure found!");
        assert_eq!(normalise("a  \nb\t\n\n\n"), "a\nb");
        assert_eq!(normalise("  a"), "  a");
        assert_ne!(normalise("Treasure  found!"), normalise("Treasure found!"));
        assert!(has_line(
            "Listener PID: 5\r\nSIGINT received! \n",
            "SIGINT received!"
        ));
        assert!(!has_line("sigint received!\n", "SIGINT received!"));
    }

    #[test]
    fn first_matching_hint_wins() {
        let rules = vec![
            HintRule {
                hint: "stderr".into(),
                stdout_empty: Some(true),
                stderr_empty: Some(false),
                ..Default::default()
            },
            HintRule {
                hint: "meow".into(),
                stdout_starts_with: Some("MEOW".into()),
                ..Default::default()
            },
        ];
        let out = |o: &str, e: &str| Output {
            stdout: o.into(),
            stderr: e.into(),
            ..Default::default()
        };
        assert_eq!(pick_hint(&rules, &out("", "boom"), None), Some("stderr"));
        assert_eq!(pick_hint(&rules, &out("MEOW x", ""), None), Some("meow"));
        assert_eq!(pick_hint(&rules, &out("other", ""), None), None);
    }
}
