//! Text made safe to put in the class report's HTML and SVG: escaped for text and quoted
//! attributes, shortened for chart labels, percent-encoded for relative links.
//!
//! Student names, hints and details come from hostile submissions. Everything that is not a
//! literal of our own must pass through [`escape`] (or [`href_path`] for a link) before it
//! reaches the page; this module must never let `<`, `&` or a quote through unescaped.

use std::fmt::Write as _;

/// `text` as HTML text or as the value of a double- or single-quoted attribute. Control
/// characters other than tab and newline become U+FFFD, so the page stays well formed.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `text` on one line, with `…` when something was cut. Cut before
/// escaping, so an entity is never split.
pub fn shorten(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A relative link made of `segments` joined by `/`, each percent-encoded except for the
/// characters RFC 3986 leaves unreserved, so a name can never end the attribute, start a query
/// or a fragment, or climb out of the output directory.
pub fn href_path(segments: &[&str]) -> String {
    let mut out = String::new();
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for byte in segment.bytes() {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                out.push(char::from(byte));
            } else {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_report_escapes_hostile_text() {
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            escape("\"><img src=x onerror='a()'>"),
            "&quot;&gt;&lt;img src=x onerror=&#39;a()&#39;&gt;"
        );
        assert_eq!(escape("a & b"), "a &amp; b");
        assert_eq!(escape("bell\u{7}\0"), "bell\u{FFFD}\u{FFFD}");
        assert_eq!(escape("two\nlines\tok"), "two\nlines\tok");
        for hostile in ["<b>", "\"x\"", "'y'", "&lt;"] {
            let safe = escape(hostile);
            assert!(!safe.contains(['<', '>', '"', '\'']), "{safe}");
        }
    }

    #[test]
    fn class_report_shortens_on_characters() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("a  b\nc", 10), "a b c");
        assert_eq!(shorten("ééééé", 3), "éé…");
        assert_eq!(shorten("<<<<<", 3), "<<…", "cut before escaping");
    }

    #[test]
    fn class_report_links_are_percent_encoded() {
        assert_eq!(href_path(&["reports", "alice.txt"]), "reports/alice.txt");
        assert_eq!(
            href_path(&["reports", "s1@uni.edu+x.txt"]),
            "reports/s1%40uni.edu%2Bx.txt"
        );
        assert_eq!(href_path(&["a\"b#c?d/e"]), "a%22b%23c%3Fd%2Fe");
    }
}
