//! Progress of a batch on stderr: on a terminal, one line redrawn in place (count, a bar, the
//! tally, the last submission finished); anywhere else (CI logs, files), one plain line per
//! finished submission, so a log shows what happened in order and nothing is overwritten.
//!
//! Progress is for people watching; nothing may parse it. The gradebook is the result.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use super::row::{Row, RowStatus};
use report::model::format_points;

const BAR_WIDTH: usize = 24;

#[derive(Debug)]
pub struct Progress {
    total: usize,
    done: usize,
    graded: usize,
    errors: usize,
    infra: usize,
    in_place: bool,
    started: Instant,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            done: 0,
            graded: 0,
            errors: 0,
            infra: 0,
            in_place: std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    /// Counts a finished row and shows it.
    pub fn finished(&mut self, row: &Row) {
        self.done += 1;
        match row.status {
            RowStatus::Graded => self.graded += 1,
            RowStatus::Error => self.errors += 1,
            RowStatus::Infra => self.infra += 1,
            RowStatus::Pending => {}
        }
        let what = describe(row);
        let mut err = std::io::stderr().lock();
        // A closed stderr must not stop the grading: progress is only for people.
        let _ = if self.in_place {
            let width = self.total.to_string().len();
            let line = format!(
                "[{}] {:>width$}/{} {} graded, {} error, {} infra, {:.0} s | {}",
                self.bar(),
                self.done,
                self.total,
                self.graded,
                self.errors,
                self.infra,
                self.started.elapsed().as_secs_f64(),
                what
            );
            // A line wider than the terminal would wrap, and `\r` would redraw only its end.
            let line: String = line.chars().take(columns().saturating_sub(1)).collect();
            write!(err, "\r\x1b[2K{line}").and_then(|()| err.flush())
        } else {
            let width = self.total.to_string().len();
            writeln!(err, "batch: [{:>width$}/{}] {what}", self.done, self.total)
        };
    }

    /// Ends the in-place line, so what follows starts on a line of its own.
    pub fn end(&self) {
        if self.in_place && self.done > 0 {
            eprintln!();
        }
    }

    fn bar(&self) -> String {
        let filled = (self.done * BAR_WIDTH)
            .checked_div(self.total)
            .unwrap_or(BAR_WIDTH);
        format!("{}{}", "#".repeat(filled), "-".repeat(BAR_WIDTH - filled))
    }
}

/// The terminal's width as the shell exports it (`COLUMNS`), else a common 80.
fn columns() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&c: &usize| c >= 20)
        .unwrap_or(80)
}

/// `alice: graded 23/25 (1.2 s)` or `bob: error: <first line of why>`.
fn describe(row: &Row) -> String {
    let seconds = row
        .seconds
        .map(|s| format!(" ({s:.1} s)"))
        .unwrap_or_default();
    match (row.status, row.score, row.max) {
        (RowStatus::Graded, Some(score), Some(max)) => format!(
            "{}: graded {}/{}{seconds}",
            row.student,
            format_points(score),
            format_points(max)
        ),
        _ => format!(
            "{}: {}: {}{seconds}",
            row.student,
            row.status.label(),
            row.detail.lines().next().unwrap_or_default()
        ),
    }
}
