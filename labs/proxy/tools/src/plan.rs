//! Fault plans as data: the JSON file a proxy reads with `--faults`, and the plans the checkers
//! draw from a seed. It only describes faults; applying them is the proxy's job.

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// The fault kinds a plan may name.
pub const KINDS: [&str; 8] = [
    "drop",
    "duplicate",
    "corrupt",
    "truncate",
    "delay",
    "reorder",
    "error",
    "kill",
];

/// One rule: a fault applied at message `at`, or to each message with probability `rate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub fault: String,
    /// Rate rules only: apply to messages k <= until (default: every message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// For delay: how long; for reorder: how long to wait for the next message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
}

/// A plan: a seed and rules, first matching rule wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub seed: u64,
    pub faults: Vec<Rule>,
}

impl Plan {
    pub fn at(seed: u64, faults: &[(u64, &str)]) -> Plan {
        Plan {
            seed,
            faults: faults
                .iter()
                .map(|(at, fault)| Rule {
                    at: Some(*at),
                    rate: None,
                    until: None,
                    fault: (*fault).to_owned(),
                    ms: match *fault {
                        "delay" => Some(5),
                        "reorder" => Some(1000),
                        _ => None,
                    },
                })
                .collect(),
        }
    }

    /// The `at` rules, in message order.
    pub fn fixed(&self) -> Vec<(u64, String)> {
        let mut out: Vec<(u64, String)> = self
            .faults
            .iter()
            .filter_map(|r| r.at.map(|at| (at, r.fault.clone())))
            .collect();
        out.sort();
        out
    }
}

/// Which plan a checker wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFor {
    /// drop and error reply
    Loss,
    /// corrupt and truncate
    Mangle,
    /// duplicate, delay and reorder
    Order,
    /// kill the server
    Kill,
    /// rate rules only (same seed, same trace)
    Replay,
    /// corrupt then drop (trace comparison)
    Diff,
}

/// Messages each fault checker sends before its barrier.
pub const BATCH: u64 = 24;
/// Messages the replay checker sends before its barrier (rate rules stop there).
pub const REPLAY_BATCH: u64 = 48;

/// Draws the plan a checker uses for `seed`.
pub fn draw(what: PlanFor, seed: u64) -> Plan {
    let mut rng = SplitMix64::new(seed ^ 0x5eed_f417);
    let kinds: &[&str] = match what {
        PlanFor::Loss => &["drop", "error"],
        PlanFor::Mangle => &["corrupt", "truncate"],
        PlanFor::Order => &["duplicate", "delay", "reorder"],
        PlanFor::Kill => &["kill"],
        PlanFor::Diff => &["corrupt", "drop"],
        PlanFor::Replay => {
            let faults = ["drop", "duplicate", "corrupt", "truncate", "error"]
                .iter()
                .map(|fault| Rule {
                    at: None,
                    rate: Some(0.08),
                    until: Some(REPLAY_BATCH),
                    fault: (*fault).to_owned(),
                    ms: None,
                })
                .collect();
            return Plan {
                seed: rng.next_u64() >> 1,
                faults,
            };
        }
    };
    // Positions 2..=BATCH-2, at least 3 apart, so a reorder's partner is never faulted.
    let mut positions: Vec<u64> = Vec::new();
    while positions.len() < kinds.len() {
        let p = rng.range(2, BATCH - 2);
        if positions.iter().all(|q| q.abs_diff(p) >= 3) {
            positions.push(p);
        }
    }
    positions.sort();
    let pairs: Vec<(u64, &str)> = positions.into_iter().zip(kinds.iter().copied()).collect();
    Plan::at(rng.next_u64() >> 1, &pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_deterministic_and_spaced() {
        for seed in 0..200 {
            let plan = draw(PlanFor::Order, seed);
            assert_eq!(plan, draw(PlanFor::Order, seed));
            let fixed = plan.fixed();
            assert_eq!(fixed.len(), 3);
            assert!(fixed.windows(2).all(|w| w[1].0 - w[0].0 >= 3));
            assert!(fixed.iter().all(|(at, _)| (2..=BATCH - 2).contains(at)));
        }
        let diff = draw(PlanFor::Diff, 3).fixed();
        assert_eq!(diff[0].1, "corrupt");
    }
}
