//! The fault suite's checker: compares the orders the producer acknowledged
//! (answered 201) with the orders found downstream (in the topic, or in the
//! consumer's log) and reports what was lost, duplicated or reordered.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde_json::Value;

/// Where a record sits in the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Placement {
    /// Partition.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
}

/// Where a 201 answer said an order is stored: its partition, and its
/// offset unless the broker acknowledged the order without one
/// (`"offset": null`: stored, position unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// Partition.
    pub partition: i32,
    /// Offset in the partition, if the answer gave one.
    pub offset: Option<i64>,
}

impl Answered {
    /// Reads a 201 body (`OrderAccepted`): `None` if it names no partition,
    /// or an offset that is neither an integer nor null.
    pub fn from_body(body: &Value) -> Option<Self> {
        let partition = i32::try_from(body["partition"].as_i64()?).ok()?;
        let offset = match &body["offset"] {
            Value::Null => None,
            offset => Some(offset.as_i64()?),
        };
        Some(Self { partition, offset })
    }

    /// Whether a record at `at` is the one this answer described.
    fn matches(&self, at: Placement) -> bool {
        at.partition == self.partition && self.offset.is_none_or(|offset| offset == at.offset)
    }
}

impl From<Placement> for Answered {
    fn from(at: Placement) -> Self {
        Self {
            partition: at.partition,
            offset: Some(at.offset),
        }
    }
}

/// Acknowledged and observed orders, by key (the `order_id`).
#[derive(Debug, Default)]
pub struct Ledger {
    acked: HashMap<String, Answered>,
    seen: Vec<(String, Placement)>,
}

/// What the comparison found. Every list is empty when nothing went wrong.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Acknowledged orders never observed.
    pub lost: Vec<String>,
    /// Orders observed more than once, with how often.
    pub duplicated: BTreeMap<String, usize>,
    /// Acknowledged orders observed at another place than the answer said
    /// (the producer stored them twice, or the answer was wrong). An answer
    /// without an offset only names the partition.
    pub misplaced: Vec<String>,
    /// Keys whose records were observed out of offset order.
    pub out_of_order: Vec<String>,
    /// How many acknowledged orders were checked.
    pub acked: usize,
    /// How many of them were answered without an offset.
    pub unplaced: usize,
}

impl Report {
    /// True if nothing acknowledged was lost, misplaced or reordered.
    /// Duplicates are allowed: at-least-once delivery may repeat an order.
    pub fn nothing_lost(&self) -> bool {
        self.lost.is_empty() && self.misplaced.is_empty() && self.out_of_order.is_empty()
    }

    /// Total number of extra observations.
    pub fn duplicates(&self) -> usize {
        self.duplicated.values().map(|n| n - 1).sum()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} acknowledged ({} without an offset): {} lost, {} duplicated ({} extra), {} misplaced, {} out of order",
            self.acked,
            self.unplaced,
            self.lost.len(),
            self.duplicated.len(),
            self.duplicates(),
            self.misplaced.len(),
            self.out_of_order.len()
        )?;
        for (what, keys) in [
            ("lost", &self.lost),
            ("misplaced", &self.misplaced),
            ("out of order", &self.out_of_order),
        ] {
            if !keys.is_empty() {
                write!(f, "; {what}: {:?}", &keys[..keys.len().min(10)])?;
            }
        }
        Ok(())
    }
}

impl Ledger {
    /// Records that the producer answered 201 for `key`, stored at `at`.
    pub fn acked(&mut self, key: impl Into<String>, at: impl Into<Answered>) {
        self.acked.insert(key.into(), at.into());
    }

    /// Records that `key` was observed at `at` (read from the topic, or
    /// processed by a consumer), in the order observations happened.
    pub fn seen(&mut self, key: impl Into<String>, at: Placement) {
        self.seen.push((key.into(), at));
    }

    /// Compares the two sides.
    pub fn report(&self) -> Report {
        let mut count: HashMap<&str, usize> = HashMap::new();
        let mut places: HashMap<&str, Vec<Placement>> = HashMap::new();
        for (key, at) in &self.seen {
            *count.entry(key).or_default() += 1;
            places.entry(key).or_default().push(*at);
        }
        let mut report = Report {
            acked: self.acked.len(),
            unplaced: self.acked.values().filter(|a| a.offset.is_none()).count(),
            ..Report::default()
        };
        for (key, answered) in &self.acked {
            match places.get(key.as_str()) {
                None => report.lost.push(key.clone()),
                Some(found) if !found.iter().any(|at| answered.matches(*at)) => {
                    report.misplaced.push(key.clone());
                }
                Some(_) => {}
            }
        }
        for (key, n) in count {
            if n > 1 {
                report.duplicated.insert(key.to_owned(), n);
            }
        }
        for (key, found) in &places {
            // First observations of each distinct record must follow offsets.
            let mut firsts: Vec<Placement> = Vec::new();
            for at in found {
                if !firsts.contains(at) {
                    firsts.push(*at);
                }
            }
            if firsts.windows(2).any(|w| w[0] > w[1]) {
                report.out_of_order.push((*key).to_owned());
            }
        }
        report.lost.sort();
        report.misplaced.sort();
        report.out_of_order.sort();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(partition: i32, offset: i64) -> Placement {
        Placement { partition, offset }
    }

    #[test]
    fn a_clean_run_reports_nothing() {
        let mut ledger = Ledger::default();
        ledger.acked("a", at(0, 0));
        ledger.acked("b", at(1, 0));
        ledger.seen("b", at(1, 0));
        ledger.seen("a", at(0, 0));
        let report = ledger.report();
        assert!(report.nothing_lost(), "{report}");
        assert_eq!(report.duplicates(), 0);
    }

    #[test]
    fn missing_repeated_misplaced_and_reordered_records_are_each_reported() {
        let mut ledger = Ledger::default();
        ledger.acked("lost", at(0, 0));
        ledger.acked("twice", at(0, 1));
        ledger.acked("elsewhere", at(0, 2));
        ledger.seen("twice", at(0, 1));
        ledger.seen("twice", at(0, 1));
        ledger.seen("elsewhere", at(1, 7));
        ledger.seen("retried", at(2, 5));
        ledger.seen("retried", at(2, 4));
        let report = ledger.report();
        assert_eq!(report.lost, ["lost"]);
        assert_eq!(report.duplicated.get("twice"), Some(&2));
        assert_eq!(report.misplaced, ["elsewhere"]);
        assert_eq!(report.out_of_order, ["retried"]);
        assert!(!report.nothing_lost());
        assert_eq!(report.duplicates(), 2);
    }

    #[test]
    fn an_answer_without_an_offset_is_checked_by_key_and_partition() {
        let unknown = |partition| Answered {
            partition,
            offset: None,
        };
        let mut ledger = Ledger::default();
        ledger.acked("stored", unknown(3));
        ledger.acked("elsewhere", unknown(3));
        ledger.acked("lost", unknown(3));
        ledger.seen("stored", at(3, 41));
        ledger.seen("elsewhere", at(4, 2));
        let report = ledger.report();
        assert_eq!(report.unplaced, 3);
        assert_eq!(report.lost, ["lost"]);
        assert_eq!(report.misplaced, ["elsewhere"]);

        let body = serde_json::json!({"partition": 3, "offset": null});
        assert_eq!(Answered::from_body(&body), Some(unknown(3)));
        let body = serde_json::json!({"partition": 3, "offset": 7});
        assert_eq!(Answered::from_body(&body), Some(at(3, 7).into()));
        assert_eq!(Answered::from_body(&serde_json::json!({"offset": 7})), None);
    }
}
