//! Trace comparison: where a faulty run of the same input first departs from the clean run, in
//! the proxy's log and in the server's ground truth. It compares what must be the same in two
//! runs (never times or connection numbers) and never reads a socket.

use crate::kvstore::TruthRecord;
use crate::trace::{Normal, ProxyRecord};

/// The first place two proxy traces differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    /// 1-based line number in the faulty trace (in the clean one when the faulty stream ended).
    pub line: usize,
    /// The stream that departs: "c2s", "s2c" or "p2c".
    pub dir: String,
    pub clean: Option<Normal>,
    pub faulty: Option<Normal>,
}

/// The directions compared one by one: within a direction the order is fixed by one socket;
/// across directions it depends on timing, so it is never compared.
pub const STREAMS: [&str; 3] = ["c2s", "s2c", "p2c"];

fn stream<'a>(trace: &'a [ProxyRecord], dir: &str) -> Vec<(usize, &'a ProxyRecord)> {
    trace
        .iter()
        .enumerate()
        .filter(|(_, r)| r.dir == dir)
        .map(|(i, r)| (i + 1, r))
        .collect()
}

/// The first departure of each direction that departs, in STREAMS order.
pub fn departures(clean: &[ProxyRecord], faulty: &[ProxyRecord]) -> Vec<Departure> {
    STREAMS
        .iter()
        .filter_map(|dir| {
            let a = stream(clean, dir);
            let b = stream(faulty, dir);
            (0..a.len().max(b.len())).find_map(|i| {
                let (ca, fb) = (a.get(i), b.get(i));
                let (na, nb) = (ca.map(|x| x.1.normal()), fb.map(|x| x.1.normal()));
                (na != nb).then(|| Departure {
                    line: fb.map(|x| x.0).or(ca.map(|x| x.0)).unwrap_or(0),
                    dir: (*dir).to_owned(),
                    clean: na,
                    faulty: nb,
                })
            })
        })
        .collect()
}

/// None when both traces say the same thing, direction by direction; otherwise the departure
/// that comes first in the faulty trace.
pub fn first_departure(clean: &[ProxyRecord], faulty: &[ProxyRecord]) -> Option<Departure> {
    departures(clean, faulty).into_iter().min_by_key(|d| d.line)
}

/// The first ground-truth record that differs (ignoring the record number and connection).
pub fn first_truth_departure(
    clean: &[TruthRecord],
    faulty: &[TruthRecord],
) -> Option<(usize, Option<TruthRecord>, Option<TruthRecord>)> {
    let strip = |r: &TruthRecord| TruthRecord {
        n: 0,
        conn: 0,
        ..r.clone()
    };
    let longest = clean.len().max(faulty.len());
    (0..longest).find_map(|i| {
        let (a, b) = (clean.get(i), faulty.get(i));
        (a.map(strip) != b.map(strip)).then(|| (i + 1, a.cloned(), b.cloned()))
    })
}

/// A few lines for a person: where the runs part and what each did there.
pub fn explain(departure: &Option<Departure>) -> String {
    match departure {
        None => "the traces are the same (times and connection numbers aside)".to_owned(),
        Some(d) => {
            let show = |n: &Option<Normal>| match n {
                Some(n) => n.to_string(),
                None => "(trace ended)".to_owned(),
            };
            format!(
                "first departure at line {} ({} messages)\n  clean:  {}\n  faulty: {}",
                d.line,
                d.dir,
                show(&d.clean),
                show(&d.faulty)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        dir: &str,
        k: Option<u64>,
        seq: u32,
        hash: &str,
        action: &str,
        t_us: u64,
    ) -> ProxyRecord {
        ProxyRecord {
            dir: dir.to_owned(),
            conn: 0,
            k,
            src: 1,
            dst: 2,
            kind: 5,
            seq,
            len: 3,
            hash: hash.to_owned(),
            t_us,
            action: action.to_owned(),
        }
    }

    #[test]
    fn interleaving_and_times_do_not_count() {
        let a = vec![
            line("c2s", Some(1), 1, "a", "forward", 1),
            line("c2s", Some(2), 2, "b", "forward", 2),
            line("s2c", None, 1, "a", "forward", 3),
        ];
        let b = vec![
            line("c2s", Some(1), 1, "a", "forward", 10),
            line("s2c", None, 1, "a", "forward", 11),
            line("c2s", Some(2), 2, "b", "forward", 12),
        ];
        assert_eq!(first_departure(&a, &b), None);
    }

    #[test]
    fn the_earliest_departure_wins() {
        let clean = vec![
            line("c2s", Some(1), 1, "a", "forward", 0),
            line("s2c", None, 1, "a", "forward", 0),
            line("c2s", Some(2), 2, "b", "forward", 0),
            line("s2c", None, 2, "b", "forward", 0),
        ];
        let mut faulty = clean.clone();
        faulty[2].action = "corrupt".to_owned();
        faulty[3].hash = "c".to_owned();
        let d = first_departure(&clean, &faulty).expect("departs");
        assert_eq!((d.line, d.dir.as_str()), (3, "c2s"));
        assert_eq!(departures(&clean, &faulty).len(), 2);
        faulty.truncate(3);
        faulty[2].action = "forward".to_owned();
        let d = first_departure(&clean, &faulty).expect("a missing reply departs");
        assert_eq!((d.line, d.faulty), (4, None));
    }
}
