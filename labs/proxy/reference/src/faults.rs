//! Fault plans: which fault hits message k, decided from the plan's seed and k alone (no clock,
//! no OS randomness), so the same plan and input give the same run. Applying the fault to the
//! bytes is here too; moving them is the relay's job.

use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Drop,
    Duplicate,
    Corrupt,
    Truncate,
    Delay,
    Reorder,
    Error,
    Kill,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::Drop => "drop",
            Fault::Duplicate => "duplicate",
            Fault::Corrupt => "corrupt",
            Fault::Truncate => "truncate",
            Fault::Delay => "delay",
            Fault::Reorder => "reorder",
            Fault::Error => "error",
            Fault::Kill => "kill",
        }
    }

    fn parse(name: &str) -> Option<Fault> {
        [
            Fault::Drop,
            Fault::Duplicate,
            Fault::Corrupt,
            Fault::Truncate,
            Fault::Delay,
            Fault::Reorder,
            Fault::Error,
            Fault::Kill,
        ]
        .into_iter()
        .find(|f| f.name() == name)
    }
}

#[derive(Debug, Deserialize)]
struct RuleFile {
    at: Option<u64>,
    rate: Option<f64>,
    until: Option<u64>,
    fault: String,
    ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct PlanFile {
    seed: u64,
    faults: Vec<RuleFile>,
}

#[derive(Debug, Clone)]
struct Rule {
    at: Option<u64>,
    rate: Option<f64>,
    until: Option<u64>,
    fault: Fault,
    ms: u64,
}

/// A decision for one message: the fault and the random number its details come from.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub fault: Fault,
    pub ms: u64,
    pub draw: u64,
}

#[derive(Debug, Clone)]
pub struct Plan {
    seed: u64,
    rules: Vec<Rule>,
}

/// SplitMix64's mixing function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Plan {
    pub fn read(path: &Path) -> Result<Plan, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: PlanFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut rules = Vec::new();
        for (i, r) in file.faults.into_iter().enumerate() {
            let fault = Fault::parse(&r.fault).ok_or_else(|| {
                format!(
                    "{}: rule {}: unknown fault {:?}",
                    path.display(),
                    i + 1,
                    r.fault
                )
            })?;
            if r.at.is_none() == r.rate.is_none() {
                return Err(format!(
                    "{}: rule {}: give exactly one of at and rate",
                    path.display(),
                    i + 1
                ));
            }
            let default_ms = if fault == Fault::Reorder { 50 } else { 10 };
            rules.push(Rule {
                at: r.at,
                rate: r.rate,
                until: r.until,
                fault,
                ms: r.ms.unwrap_or(default_ms),
            });
        }
        Ok(Plan {
            seed: file.seed,
            rules,
        })
    }

    /// The first rule that hits message k, if any.
    pub fn decide(&self, k: u64) -> Option<Hit> {
        self.rules.iter().enumerate().find_map(|(i, r)| {
            let draw = mix(self.seed ^ mix(k) ^ mix(i as u64 + 1));
            let hit = match (r.at, r.rate) {
                (Some(at), _) => at == k,
                (None, Some(rate)) => {
                    r.until.is_none_or(|u| k <= u)
                        && ((draw >> 11) as f64 / (1u64 << 53) as f64) < rate
                }
                (None, None) => false,
            };
            hit.then_some(Hit {
                fault: r.fault,
                ms: r.ms,
                draw: mix(draw),
            })
        })
    }
}

/// Flips one bit of the payload (the type's low bit when there is no payload).
pub fn corrupt(packet: &mut [u8], draw: u64) {
    let payload = packet.len().saturating_sub(crate::wire::HEADER_LEN);
    if payload == 0 {
        packet[4] ^= 1;
    } else {
        let at = crate::wire::HEADER_LEN + (draw % payload as u64) as usize;
        packet[at] ^= 1 << ((draw >> 32) % 8);
    }
}

/// Cuts the payload short and leaves the header's length as it was, so the receiver can tell.
pub fn truncate(packet: &mut Vec<u8>, draw: u64) {
    let payload = packet.len().saturating_sub(crate::wire::HEADER_LEN);
    if payload == 0 {
        packet.truncate(crate::wire::HEADER_LEN / 2);
    } else {
        packet.truncate(crate::wire::HEADER_LEN + (draw % payload as u64) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> Plan {
        let dir =
            std::env::temp_dir().join(format!("proxy-plan-{}-{}", std::process::id(), json.len()));
        std::fs::write(&dir, json).expect("temp file");
        let p = Plan::read(&dir).expect("valid plan");
        let _ = std::fs::remove_file(&dir);
        p
    }

    #[test]
    fn same_seed_same_decisions() {
        let a =
            plan(r#"{"seed":5,"faults":[{"rate":0.3,"fault":"drop"},{"at":4,"fault":"kill"}]}"#);
        let b = a.clone();
        let hits: Vec<_> = (1..200).map(|k| a.decide(k).map(|h| h.fault)).collect();
        assert_eq!(
            hits,
            (1..200)
                .map(|k| b.decide(k).map(|h| h.fault))
                .collect::<Vec<_>>()
        );
        assert!(hits.iter().filter(|h| h.is_some()).count() > 20);
    }

    #[test]
    fn truncate_keeps_the_header() {
        let mut p = vec![0u8; 16 + 10];
        truncate(&mut p, 7);
        assert_eq!(p.len(), 16 + 7);
    }
}
