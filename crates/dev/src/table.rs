//! The reliability table: the figures of one corpus run as Markdown, and the README block between
//! `<!-- reliability:start -->` and `<!-- reliability:end -->` that holds it. The invariant rows
//! (graded right, processes left, bytes changed, forged grades) can be read back from a README,
//! so a test can hold the README to a fresh run.
//!
//! Never writes outside the markers of the README it is given.

use std::path::Path;
use std::time::Duration;

use super::{CorpusRun, EntryResult};

pub const README_START: &str = "<!-- reliability:start -->";
pub const README_END: &str = "<!-- reliability:end -->";

/// Row labels the invariants are read back by.
pub const ROW_SUBMISSIONS: &str = "submissions in the corpus";
pub const ROW_RIGHT: &str = "graded exactly right";
pub const ROW_PROCESSES: &str = "processes left after grading";
pub const ROW_BYTES: &str = "bytes changed in the submission directories";
pub const ROW_FORGED: &str = "forged grades accepted";

/// The totals of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub entries: usize,
    pub graded: usize,
    pub right: usize,
    pub groups: Vec<(String, usize)>,
    pub max_overshoot: Duration,
    pub processes_left: usize,
    pub bytes_changed: u64,
    pub forging: usize,
    pub forged_accepted: usize,
    pub files_left: usize,
    pub ipc_left: usize,
    pub keys_left: usize,
    pub hung: usize,
    pub connections: usize,
    pub canary_hurt: usize,
    pub grader_peak_rss: u64,
    pub largest_process_rss: u64,
    pub wall: Duration,
    pub privileged: bool,
}

impl Summary {
    pub fn of(run: &CorpusRun) -> Summary {
        let graded: Vec<&EntryResult> =
            run.entries.iter().filter(|e| e.skipped.is_none()).collect();
        let mut groups: Vec<(String, usize)> = Vec::new();
        for entry in &run.entries {
            match groups.iter_mut().find(|(name, _)| *name == entry.group) {
                Some((_, count)) => *count += 1,
                None => groups.push((entry.group.clone(), 1)),
            }
        }
        Summary {
            entries: run.entries.len(),
            graded: graded.len(),
            right: graded.iter().filter(|e| e.problems.is_empty()).count(),
            groups,
            max_overshoot: graded.iter().map(|e| e.overshoot).max().unwrap_or_default(),
            processes_left: graded.iter().map(|e| e.processes_left).sum(),
            bytes_changed: graded.iter().map(|e| e.bytes_changed).sum(),
            forging: graded.iter().filter(|e| e.forges).count(),
            forged_accepted: graded.iter().filter(|e| e.forged_accepted).count(),
            files_left: graded.iter().map(|e| e.files_left).sum(),
            ipc_left: graded.iter().map(|e| e.ipc_left).sum(),
            keys_left: graded.iter().map(|e| e.keys_left).sum(),
            hung: graded.iter().filter(|e| e.hung).count(),
            connections: graded.iter().map(|e| e.connections).sum(),
            canary_hurt: graded.iter().filter(|e| e.canary_hurt).count(),
            grader_peak_rss: graded.iter().map(|e| e.grader_peak_rss).max().unwrap_or(0),
            largest_process_rss: run.largest_process_rss,
            wall: run.wall,
            privileged: run.privileged,
        }
    }

    /// Whether every invariant holds: all graded right, nothing left, nothing changed, nothing
    /// forged, no escape.
    pub fn holds(&self) -> bool {
        self.graded == self.entries
            && self.right == self.graded
            && self.processes_left == 0
            && self.bytes_changed == 0
            && self.forged_accepted == 0
            && self.files_left == 0
            && self.ipc_left == 0
            && self.keys_left == 0
            && self.hung == 0
            && self.connections == 0
            && self.canary_hurt == 0
    }

    fn percent_right(&self) -> String {
        if self.graded == 0 {
            return "0 %".into();
        }
        let percent = 100.0 * self.right as f64 / self.graded as f64;
        if self.right == self.graded {
            "100 %".into()
        } else {
            format!("{percent:.1} %")
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// The table, as Markdown.
pub fn markdown(summary: &Summary, corpus_shown: &str) -> String {
    let groups: Vec<String> = summary
        .groups
        .iter()
        .map(|(name, count)| format!("{count} {name}"))
        .collect();
    let skipped = summary.entries - summary.graded;
    let graded_note = if skipped > 0 {
        format!(" ({skipped} not graded: they need root)")
    } else {
        String::new()
    };
    let rows = [
        (
            ROW_SUBMISSIONS.to_string(),
            format!("{} ({})", summary.entries, groups.join(", ")),
        ),
        (
            format!("{ROW_RIGHT} (score, lost checks, hint, exit status, last line)"),
            format!(
                "{}/{} ({}){graded_note}",
                summary.right,
                summary.graded,
                summary.percent_right()
            ),
        ),
        (
            "per-check deadline held: furthest any check ran past its deadline".to_string(),
            format!("{:.2} s", summary.max_overshoot.as_secs_f64()),
        ),
        (
            format!("{ROW_PROCESSES} (lab users' and the grader's orphans)"),
            summary.processes_left.to_string(),
        ),
        (ROW_BYTES.to_string(), summary.bytes_changed.to_string()),
        (
            format!(
                "{ROW_FORGED} (of {} entries that try; stdout, results.json, JUnit)",
                summary.forging
            ),
            summary.forged_accepted.to_string(),
        ),
        (
            "files left by student code outside the scratch tree".to_string(),
            summary.files_left.to_string(),
        ),
        (
            "grades that never ended (the grader killed at the corpus's limit)".to_string(),
            summary.hung.to_string(),
        ),
        (
            "IPC objects left by student code (SysV shared memory, queues, semaphores; POSIX queues)"
                .to_string(),
            summary.ipc_left.to_string(),
        ),
        (
            "keys left in the lab users' keyrings".to_string(),
            summary.keys_left.to_string(),
        ),
        (
            "connections from student code that reached the host".to_string(),
            summary.connections.to_string(),
        ),
        (
            "other users' processes killed by student code".to_string(),
            summary.canary_hurt.to_string(),
        ),
        (
            "peak memory of the grader (RSS, largest of all runs)".to_string(),
            mib(summary.grader_peak_rss),
        ),
        (
            "largest student process (RSS; limit 1 GiB of address space)".to_string(),
            mib(summary.largest_process_rss),
        ),
        (
            "wall time of the whole corpus".to_string(),
            format!("{:.0} s", summary.wall.as_secs_f64()),
        ),
    ];
    let mut out = format!(
        "Produced by `grader-dev reliability --update-readme README.md` ({}): every submission of\n\
         `{corpus_shown}` graded one after another by the real grader binary.\n\n\
         | measure | result |\n|---|---|\n",
        if summary.privileged {
            "as root"
        } else {
            "not root"
        }
    );
    for (label, value) in rows {
        out.push_str(&format!("| {label} | {value} |\n"));
    }
    out
}

/// Puts `table` between the markers of the README at `path`, adding a `Reliability` section at
/// the end when the markers are not there yet. The rest of the file is kept byte for byte.
pub fn update_readme(path: &Path, table: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let block = format!("{README_START}\n{table}{README_END}");
    let updated = match (text.find(README_START), text.find(README_END)) {
        (Some(start), Some(end)) if start < end => {
            format!(
                "{}{block}{}",
                &text[..start],
                &text[end + README_END.len()..]
            )
        }
        _ => {
            let sep = if text.ends_with('\n') { "" } else { "\n" };
            format!("{text}{sep}\n## Reliability\n\n{block}\n")
        }
    };
    report::write_atomically(path, updated.as_bytes()).map_err(std::io::Error::other)
}

/// The value cell of the row whose label starts with `label`, in the README's block.
pub fn readme_value(readme: &str, label: &str) -> Option<String> {
    let start = readme.find(README_START)?;
    let end = readme[start..].find(README_END)? + start;
    readme[start..end].lines().find_map(|line| {
        let cells: Vec<&str> = line.trim().trim_matches('|').split(" | ").collect();
        (cells.len() == 2 && cells[0].trim().starts_with(label))
            .then(|| cells[1].trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_added_once_then_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("README.md");
        std::fs::write(&path, "# Title\n\ntext\n").expect("write");
        let summary = Summary {
            entries: 2,
            graded: 2,
            right: 2,
            groups: vec![("cat".into(), 2)],
            ..Summary::default()
        };
        update_readme(&path, &markdown(&summary, "corpus.toml")).expect("update");
        update_readme(&path, &markdown(&summary, "corpus.toml")).expect("update again");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("# Title\n\ntext\n\n## Reliability\n"),
            "{text}"
        );
        assert_eq!(text.matches(README_START).count(), 1);
        assert_eq!(
            readme_value(&text, ROW_RIGHT).as_deref(),
            Some("2/2 (100 %)")
        );
        assert_eq!(readme_value(&text, ROW_PROCESSES).as_deref(), Some("0"));
        assert_eq!(
            readme_value(&text, ROW_SUBMISSIONS).as_deref(),
            Some("2 (2 cat)")
        );
    }
}
