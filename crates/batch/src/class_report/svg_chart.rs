//! The class report's two charts, drawn as inline SVG text: a column histogram and rows of
//! stacked horizontal bars. Plain markup with a fixed size, so a browser shows them without
//! scripts, fonts or images, and a printout looks the same.
//!
//! Labels and tooltips arrive as plain text and are escaped here; this module must never put a
//! caller's text into the markup unescaped, and never divide by a count that may be zero.

use std::fmt::Write as _;

use super::markup::{escape, shorten};

/// One column of a histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Written under the column (short: a few characters).
    pub label: String,
    pub count: usize,
    /// Shown when the pointer rests on the column.
    pub tip: String,
}

const HIST_WIDTH: f64 = 760.0;
const HIST_HEIGHT: f64 = 280.0;
const HIST_LEFT: f64 = 48.0;
const HIST_RIGHT: f64 = 12.0;
const HIST_TOP: f64 = 22.0;
const HIST_BOTTOM: f64 = 44.0;
const HIST_COLOR: &str = "#3465a4";
const AXIS_COLOR: &str = "#555555";
const GRID_COLOR: &str = "#dddddd";
const TEXT_COLOR: &str = "#222222";

/// A histogram of `columns`, left to right, with a count axis and `x_caption` under it.
pub fn histogram(columns: &[Column], x_caption: &str, aria: &str) -> String {
    let mut svg = open(HIST_WIDTH, HIST_HEIGHT, aria);
    let plot_w = HIST_WIDTH - HIST_LEFT - HIST_RIGHT;
    let plot_h = HIST_HEIGHT - HIST_TOP - HIST_BOTTOM;
    let base = HIST_TOP + plot_h;
    let highest = columns.iter().map(|c| c.count).max().unwrap_or(0);
    let step = highest.div_ceil(4).max(1);
    let top = highest.div_ceil(step).max(1) * step;
    for tick in (0..=top).step_by(step) {
        let y = base - plot_h * ratio(tick, top);
        let _ = write!(
            svg,
            r#"<line x1="{HIST_LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{GRID_COLOR}"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="{AXIS_COLOR}">{tick}</text>"#,
            HIST_LEFT + plot_w,
            HIST_LEFT - 6.0,
            y + 4.0
        );
    }
    if columns.iter().all(|c| c.count == 0) {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="14" text-anchor="middle" fill="{AXIS_COLOR}">no scores yet</text>"#,
            HIST_LEFT + plot_w / 2.0,
            HIST_TOP + plot_h / 2.0
        );
    }
    let n = columns.len().max(1);
    let col_w = plot_w / n as f64;
    // Label every k-th column so labels of about 6 px a character never overlap.
    let widest = columns
        .iter()
        .map(|c| c.label.chars().count())
        .max()
        .unwrap_or(1);
    let every = ((widest as f64 * 6.5 + 4.0) / col_w).ceil().max(1.0) as usize;
    for (i, column) in columns.iter().enumerate() {
        let x = HIST_LEFT + col_w * i as f64;
        let h = plot_h * ratio(column.count, top);
        let centre = x + col_w / 2.0;
        let _ = write!(
            svg,
            r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{HIST_COLOR}"><title>{}</title></rect>"#,
            x + 1.0,
            base - h,
            (col_w - 2.0).max(1.0),
            escape(&column.tip)
        );
        if column.count > 0 {
            let _ = write!(
                svg,
                r#"<text x="{centre:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="{AXIS_COLOR}">{}</text>"#,
                base - h - 3.0,
                column.count
            );
        }
        if i % every == 0 || i + 1 == columns.len() {
            let _ = write!(
                svg,
                r#"<text x="{centre:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="{AXIS_COLOR}">{}</text>"#,
                base + 15.0,
                escape(&column.label)
            );
        }
    }
    let _ = write!(
        svg,
        r#"<line x1="{HIST_LEFT}" y1="{base:.1}" x2="{:.1}" y2="{base:.1}" stroke="{AXIS_COLOR}"/><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle" fill="{AXIS_COLOR}">{}</text>"#,
        HIST_LEFT + plot_w,
        HIST_LEFT + plot_w / 2.0,
        HIST_HEIGHT - 8.0,
        escape(x_caption)
    );
    svg.push_str("</svg>");
    svg
}

/// One part of a stacked bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub count: usize,
    pub color: &'static str,
}

/// One row of stacked bars: a label, the bar's parts, and a note at its right end.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedRow {
    pub label: String,
    pub tip: String,
    pub segments: Vec<Segment>,
    pub note: String,
}

const ROWS_WIDTH: f64 = 940.0;
const ROWS_LABEL: f64 = 340.0;
const ROWS_BAR: f64 = 440.0;
const ROW_HEIGHT: f64 = 22.0;
const ROWS_TOP: f64 = 28.0;
const LABEL_CHARS: usize = 52;

/// Rows of stacked bars, each as long as the whole (all segments of a row add up to 100 %),
/// under a legend of `(name, color)`.
pub fn stacked_rows(rows: &[StackedRow], legend: &[(&str, &str)], aria: &str) -> String {
    let height = ROWS_TOP + ROW_HEIGHT * rows.len().max(1) as f64 + 6.0;
    let mut svg = open(ROWS_WIDTH, height, aria);
    let mut x = ROWS_LABEL;
    for (name, color) in legend {
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="6" width="12" height="12" fill="{color}"/><text x="{:.1}" y="16" font-size="12" fill="{AXIS_COLOR}">{}</text>"#,
            x + 16.0,
            escape(name)
        );
        x += 24.0 + 7.5 * name.chars().count() as f64;
    }
    for (i, row) in rows.iter().enumerate() {
        let y = ROWS_TOP + ROW_HEIGHT * i as f64;
        let _ = write!(
            svg,
            r#"<g><title>{}</title><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="{TEXT_COLOR}">{}</text>"#,
            escape(&row.tip),
            ROWS_LABEL - 8.0,
            y + 14.0,
            escape(&shorten(&row.label, LABEL_CHARS))
        );
        let total: usize = row.segments.iter().map(|s| s.count).sum();
        let mut start = ROWS_LABEL;
        for segment in &row.segments {
            let w = ROWS_BAR * ratio(segment.count, total);
            if w > 0.0 {
                let _ = write!(
                    svg,
                    r#"<rect class="bar" x="{start:.1}" y="{:.1}" width="{w:.1}" height="15" fill="{}"/>"#,
                    y + 3.0,
                    segment.color
                );
            }
            start += w;
        }
        let _ = write!(
            svg,
            r#"<rect x="{ROWS_LABEL}" y="{:.1}" width="{ROWS_BAR}" height="15" fill="none" stroke="{AXIS_COLOR}" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" font-size="12" fill="{TEXT_COLOR}">{}</text></g>"#,
            y + 3.0,
            ROWS_LABEL + ROWS_BAR + 8.0,
            y + 14.0,
            escape(&row.note)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn open(width: f64, height: f64, aria: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{}" font-family="sans-serif">"#,
        escape(aria)
    )
}

/// `part / whole`, 0 when the whole is 0.
fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_report_histogram_of_nothing_draws_axes_only() {
        let svg = histogram(&[], "points", "scores");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("no scores yet"));
        assert!(!svg.contains("NaN") && !svg.contains("\"inf"), "{svg}");
        let zeros = vec![
            Column {
                label: "0".into(),
                count: 0,
                tip: "none".into(),
            };
            3
        ];
        let svg = histogram(&zeros, "points", "scores");
        assert!(!svg.contains("NaN") && !svg.contains("\"inf"), "{svg}");
    }

    #[test]
    fn class_report_chart_text_is_escaped() {
        let hostile = "<script>x</script>";
        let svg = histogram(
            &[Column {
                label: hostile.into(),
                count: 2,
                tip: hostile.into(),
            }],
            hostile,
            hostile,
        );
        assert!(!svg.contains("<script"), "{svg}");
        let rows = [StackedRow {
            label: "\"><img onerror=x>".into(),
            tip: hostile.into(),
            segments: vec![Segment {
                count: 0,
                color: "#000000",
            }],
            note: hostile.into(),
        }];
        let svg = stacked_rows(&rows, &[("passed", "#00ff00")], hostile);
        assert!(!svg.contains("<script") && !svg.contains("<img"), "{svg}");
        assert!(
            !svg.contains("NaN"),
            "an empty row divides by nothing: {svg}"
        );
    }

    #[test]
    fn class_report_stacked_segments_fill_the_bar() {
        let rows = [StackedRow {
            label: "check".into(),
            tip: "check".into(),
            segments: vec![
                Segment {
                    count: 1,
                    color: "#111111",
                },
                Segment {
                    count: 3,
                    color: "#222222",
                },
            ],
            note: "25 %".into(),
        }];
        let svg = stacked_rows(&rows, &[], "rates");
        assert!(
            svg.contains(r##"width="110.0" height="15" fill="#111111""##),
            "{svg}"
        );
        assert!(
            svg.contains(r##"x="450.0" y="31.0" width="330.0""##),
            "{svg}"
        );
    }
}
