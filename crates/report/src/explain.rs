//! The explanation shown under a failed or skipped check, shared word for word by the terminal
//! report, JUnit and Gradescope so a student sees the same thing everywhere.
//!
//! Whitespace policy, so that "looks the same but fails" never happens: every line of `input:`,
//! `expected:` and `actual:` starts with `|`, so leading spaces are visible; spaces at the end of a
//! line are drawn as `·`; tab, CR and NUL appear as `\t`, `\r`, `\0`, any other control or invisible
//! character as `\xNN` or `\u{...}`, and a backslash as `\\` (so `\t` in the text is never a tab);
//! text that does not end in a newline gets a `\ no newline at end` line, as in `diff`. Long blocks
//! are cut at about 40 lines or 4 KiB with a note saying how much was left out.
//!
//! This module must never emit a raw control character: JUnit writers delete them, which would
//! make the XML disagree with the terminal.

use crate::model::{CheckResult, Status};

/// At most this many lines of one block are shown.
const MAX_LINES: usize = 40;
/// At most about this many bytes of one block are shown.
const MAX_BYTES: usize = 4096;
/// How a block's lines are indented under their label.
const INDENT: &str = "  ";
/// Stands for one trailing space.
const TRAILING_SPACE: char = '·';

/// The multi-line explanation of a check: its summary line (prefixed `skipped:` for a skip), then
/// whichever of `input:`, `expected:`, `actual:`, `hint:` and `log:` the evidence holds. Has no
/// final newline.
pub fn explain(check: &CheckResult) -> String {
    let mut lines = Vec::new();
    let summary = check.summary.trim_end();
    let summary = if summary.is_empty() {
        "(no summary)"
    } else {
        summary
    };
    let mut summary_lines = summary.lines().map(sanitize_log_line);
    let first = summary_lines.next().unwrap_or_default();
    lines.push(match check.status {
        Status::Skipped => format!("skipped: {first}"),
        Status::Passed | Status::Failed => first,
    });
    lines.extend(summary_lines.map(|l| format!("{INDENT}{l}")));

    let evidence = &check.evidence;
    for (label, text) in [
        ("input:", &evidence.input),
        ("expected:", &evidence.expected),
        ("actual:", &evidence.actual),
    ] {
        if let Some(text) = text {
            lines.push(label.to_string());
            lines.extend(
                visible_block(text)
                    .into_iter()
                    .map(|l| format!("{INDENT}{l}")),
            );
        }
    }
    if let Some(hint) = &evidence.hint {
        let mut hint_lines = hint.trim_end().lines().map(sanitize_log_line);
        lines.push(format!("hint: {}", hint_lines.next().unwrap_or_default()));
        lines.extend(hint_lines.map(|l| format!("{INDENT}{l}")));
    }
    if let Some(log) = &evidence.log {
        lines.push("log:".to_string());
        lines.extend(log_block(log).into_iter().map(|l| format!("{INDENT}{l}")));
    }
    lines.join("\n")
}

/// Renders compared text under the whitespace policy, one output line per input line.
fn visible_block(text: &str) -> Vec<String> {
    if text.is_empty() {
        return vec!["(empty)".to_string()];
    }
    let (body, ends_with_newline) = match text.strip_suffix('\n') {
        Some(body) => (body, true),
        None => (text, false),
    };
    let source: Vec<&str> = body.split('\n').collect();
    let mut out = capped(&source, |line| {
        let mut rendered = String::from("|");
        rendered.push_str(&visible_line(line));
        rendered
    });
    if out.len() == source.len() && !ends_with_newline {
        out.push("\\ no newline at end".to_string());
    }
    out
}

/// Renders a log excerpt: kept as written (it is context, not compared text) but with colour codes
/// dropped and control characters made visible.
fn log_block(log: &str) -> Vec<String> {
    let source: Vec<&str> = log.trim_end_matches('\n').split('\n').collect();
    capped(&source, sanitize_log_line)
}

/// Renders `source` lines with `render` until the line or byte budget runs out, then says how much
/// was left out. A line that alone overflows the budget is cut inside, never mid-character.
fn capped(source: &[&str], render: impl Fn(&str) -> String) -> Vec<String> {
    let mut out = Vec::new();
    let mut used = 0;
    for (index, line) in source.iter().enumerate() {
        let left = source.len() - index;
        if index == MAX_LINES {
            out.push(format!("... ({left} more {} not shown)", lines_word(left)));
            break;
        }
        let rendered = render(line);
        if used + rendered.len() > MAX_BYTES {
            let cut = floor_char_boundary(&rendered, MAX_BYTES.saturating_sub(used));
            if cut > 0 {
                out.push(rendered[..cut].to_string());
                let rest = left - 1;
                out.push(format!(
                    "... (rest of this line and {rest} more {} not shown)",
                    lines_word(rest)
                ));
            } else {
                out.push(format!("... ({left} more {} not shown)", lines_word(left)));
            }
            break;
        }
        used += rendered.len();
        out.push(rendered);
    }
    out
}

fn lines_word(n: usize) -> &'static str {
    if n == 1 { "line" } else { "lines" }
}

/// The largest index `<= at` that does not split a character.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut cut = at.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// One line of compared text with every invisible difference made visible.
fn visible_line(line: &str) -> String {
    // Spaces count as trailing when only whitespace follows them, so the two spaces in
    // "ok  \r" are marked just like those in "ok  ".
    let end_of_text = line.trim_end().len();
    let mut out = String::with_capacity(line.len() + 8);
    for (at, c) in line.char_indices() {
        if c == ' ' && at >= end_of_text {
            out.push(TRAILING_SPACE);
        } else {
            push_visible(&mut out, c);
        }
    }
    out
}

fn push_visible(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        // The trailing-space marker itself, so a real `·` is never mistaken for a space.
        TRAILING_SPACE => out.push_str("\\u{b7}"),
        c if is_invisible(c) => push_escaped(out, c),
        c => out.push(c),
    }
}

/// Control characters, and characters that print as nothing or as a plain space (no-break space,
/// zero-width space, byte-order mark): students paste these from PDFs and web pages.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}' | '\u{ad}'
        )
}

/// Writes `c` as an escape: a short name for the common ones, else its code point.
fn push_escaped(out: &mut String, c: char) {
    let code = u32::from(c);
    if let Some(name) = match c {
        '\t' => Some("\\t"),
        '\r' => Some("\\r"),
        '\0' => Some("\\0"),
        _ => None,
    } {
        out.push_str(name);
    } else if code < 0x80 {
        out.push_str(&format!("\\x{code:02x}"));
    } else {
        out.push_str(&format!("\\u{{{code:x}}}"));
    }
}

/// A line of a log, summary or hint: colour codes dropped, tabs kept, other control characters
/// made visible.
fn sanitize_log_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            // A CSI sequence (colours, cursor moves) runs to its final byte in '@'..='~'.
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
            continue;
        }
        match c {
            '\t' => out.push('\t'),
            c if c.is_control() => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::model::Evidence;

    fn failing(evidence: Evidence) -> CheckResult {
        CheckResult {
            status: Status::Failed,
            summary: "differs".into(),
            max_points: 1.0,
            evidence,
            ..fixture::check("c", "p", "P", "C")
        }
    }

    #[test]
    fn report_explain_shows_whitespace_visibly() {
        let report = fixture::report();
        let text = explain(&report.checks[2]);
        let expected = "\
output after SIGINT differs from the expected line
input:
  |SIGINT
  \\ no newline at end
expected:
  |SIGINT received!
actual:
  |SIGINT received!··\\r
  |\\tbye
  \\ no newline at end
hint: Print exactly the line the handout asks for.";
        assert_eq!(text, expected);
    }

    #[test]
    fn report_explain_never_emits_raw_control_characters() {
        let check = failing(Evidence {
            actual: Some("a\0b\u{1b}[31mred\u{7f}\u{a0}\u{feff}x\\t·\n".into()),
            log: Some("\u{1b}[1merror\u{1b}[0m: boom\r\n\tat line 3\n".into()),
            ..Evidence::default()
        });
        let text = explain(&check);
        assert!(
            text.contains(r"|a\0b\x1b[31mred\x7f\u{a0}\u{feff}x\\t\u{b7}"),
            "{text}"
        );
        assert!(
            text.contains("log:\n  error: boom\\r\n  \tat line 3"),
            "{text}"
        );
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{text:?}"
        );
    }

    #[test]
    fn report_explain_marks_empty_and_blank_lines() {
        let check = failing(Evidence {
            expected: Some(String::new()),
            actual: Some("\n   \n".into()),
            ..Evidence::default()
        });
        assert_eq!(
            explain(&check),
            "differs\nexpected:\n  (empty)\nactual:\n  |\n  |···"
        );
    }

    #[test]
    fn report_explain_caps_long_blocks_by_lines() {
        let many: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let check = failing(Evidence {
            actual: Some(many),
            ..Evidence::default()
        });
        let text = explain(&check);
        assert!(
            text.contains("  |line 39\n  ... (60 more lines not shown)"),
            "{text}"
        );
        assert!(!text.contains("line 40"));
    }

    #[test]
    fn report_explain_caps_one_huge_line_by_bytes() {
        let check = failing(Evidence {
            actual: Some(format!("{}\nsecond\n", "é".repeat(10_000))),
            ..Evidence::default()
        });
        let text = explain(&check);
        assert!(text.len() < MAX_BYTES + 200, "{}", text.len());
        assert!(text.ends_with("... (rest of this line and 1 more line not shown)"));
    }

    #[test]
    fn report_explain_skip_says_skipped_and_keeps_hint_and_log() {
        let report = fixture::report();
        assert_eq!(
            explain(&report.checks[3]),
            "skipped: needs root to run the cat as garfield"
        );
        let check = failing(Evidence {
            hint: Some("first\nsecond".into()),
            log: Some("error[E0425]: cannot find value\n".into()),
            ..Evidence::default()
        });
        assert_eq!(
            explain(&check),
            "differs\nhint: first\n  second\nlog:\n  error[E0425]: cannot find value"
        );
    }
}
