//! `--shard K/N`: which slice of a class one batch grades, so that N machines (GitLab's
//! `parallel: N` jobs) grade a class together without a scheduler of their own.
//!
//! The rule: sort the students by id (byte order, so the order of the roster, of the arguments or
//! of a directory listing on disk changes nothing), then deal them out round-robin: the student
//! at position `i` (from 0) of that sorted list belongs to shard `i % N + 1`. Every student is in
//! exactly one shard, shard sizes differ by at most one, and the same class always gives the
//! same slices. This module only chooses; it never reads or grades anything.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Shard `index` of `count`, both from 1 (as GitLab's `CI_NODE_INDEX` and `CI_NODE_TOTAL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// What the manifest says about the rule, so a reader of a shard's output knows how it was cut.
pub const RULE: &str = "students sorted by id (byte order), dealt round-robin: position i (from 0) goes to shard i % N + 1";

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "`{text}` is not a shard\n  fix: write K/N with 1 <= K <= N, e.g. --shard 2/4 (in GitLab CI: --shard \"$CI_NODE_INDEX/$CI_NODE_TOTAL\")"
            )
        };
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Positions (into `students`) of the students this shard grades, in the order given.
    pub fn select(&self, students: &[&str]) -> Vec<usize> {
        let mut sorted: Vec<usize> = (0..students.len()).collect();
        sorted.sort_by(|&a, &b| students[a].as_bytes().cmp(students[b].as_bytes()));
        let count = usize::try_from(self.count).unwrap_or(usize::MAX);
        let index = usize::try_from(self.index).unwrap_or(usize::MAX);
        let mut mine: Vec<usize> = sorted
            .into_iter()
            .enumerate()
            .filter(|(rank, _)| rank % count + 1 == index)
            .map(|(_, position)| position)
            .collect();
        mine.sort_unstable();
        mine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_shard_parses_k_of_n() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/4", "5/4", "1/0", "4", "a/b", "", "1/2/3"] {
            let err = bad.parse::<Shard>().expect_err(bad);
            assert!(err.contains("fix:"), "{err}");
        }
        assert_eq!(Shard { index: 3, count: 8 }.to_string(), "3/8");
    }

    #[test]
    fn batch_shards_cover_everyone_once_whatever_the_order() {
        let class: Vec<String> = (0..23).map(|i| format!("s{:03}", (i * 7) % 23)).collect();
        let ids: Vec<&str> = class.iter().map(String::as_str).collect();
        let mut reversed = ids.clone();
        reversed.reverse();
        let mut seen = Vec::new();
        for index in 1..=4 {
            let shard = Shard { index, count: 4 };
            let mine: Vec<&str> = shard.select(&ids).into_iter().map(|i| ids[i]).collect();
            let mut theirs: Vec<&str> = shard
                .select(&reversed)
                .into_iter()
                .map(|i| reversed[i])
                .collect();
            let mut sorted_mine = mine.clone();
            sorted_mine.sort_unstable();
            theirs.sort_unstable();
            assert_eq!(sorted_mine, theirs, "the order on disk changes nothing");
            assert!((5..=6).contains(&mine.len()), "{mine:?}");
            seen.extend(mine);
        }
        seen.sort_unstable();
        let mut all = ids.clone();
        all.sort_unstable();
        assert_eq!(seen, all, "every student in exactly one shard");
        // Round-robin over sorted ids: the first three go to shards 1, 2, 3.
        let three = ["c", "a", "b"];
        assert_eq!(Shard { index: 1, count: 3 }.select(&three), [1]);
        assert_eq!(Shard { index: 3, count: 3 }.select(&three), [0]);
    }
}
