//! Records deleted before they were read: retention, `kafka-delete-records`
//! or a truncated log moved a partition's start past the consumer's
//! position. librdkafka then resets the position as `AUTO_OFFSET_RESET`
//! says and only warns ("offset reset (at offset N …)"); the orders between
//! N and where reading resumes were never processed. The first record read
//! after such a reset tells how many: an ERROR line names the partition and
//! the range, and `orders_skipped_offsets_total` counts them. A partition
//! that resumes *below* N was recreated or truncated: nothing was skipped,
//! and a WARN says so.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// What librdkafka writes before the partition and the offset.
const RESET: &str = "]: offset reset (at offset ";

/// Partitions whose position librdkafka reset, and where it was.
#[derive(Debug, Default)]
pub struct Resets {
    at: Mutex<HashMap<i32, i64>>,
    /// Any reset waiting for its partition's next record: one load per
    /// record when there is none.
    pending: AtomicBool,
}

impl Resets {
    /// Looks at one librdkafka log line.
    pub fn observe(&self, message: &str) {
        let Some((partition, at)) = parse(message) else {
            return;
        };
        let mut resets = self.at.lock().unwrap_or_else(PoisonError::into_inner);
        // A second reset before any record: the first position counts.
        resets.entry(partition).or_insert(at);
        self.pending.store(true, Ordering::Release);
    }

    /// Before a record of `partition` at `offset` is handled: says what a
    /// reset of that partition skipped. Returns the skipped offsets.
    pub fn check(&self, partition: i32, offset: i64) -> i64 {
        if !self.pending.load(Ordering::Acquire) {
            return 0;
        }
        let mut resets = self.at.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(at) = resets.remove(&partition) else {
            return 0;
        };
        self.pending.store(!resets.is_empty(), Ordering::Release);
        drop(resets);
        if offset > at {
            let skipped = offset - at;
            metrics::counter!("orders_skipped_offsets_total")
                .increment(u64::try_from(skipped).unwrap_or(0));
            tracing::error!(
                partition,
                from = at,
                to = offset,
                skipped,
                "records deleted before they were read: offsets from..to were never processed"
            );
            skipped
        } else {
            if offset < at {
                tracing::warn!(
                    partition,
                    position = at,
                    offset,
                    "partition resumed below the consumer's position: recreated or truncated; reading it from there"
                );
            }
            0
        }
    }
}

/// The partition and offset of librdkafka's warning: `orders [3]: offset
/// reset (at offset 4 (leader epoch 0), broker 1) to offset BEGINNING …`.
fn parse(message: &str) -> Option<(i32, i64)> {
    let end = message.find(RESET)?;
    let partition = message[..end].rsplit('[').next()?.parse().ok()?;
    let rest = &message[end + RESET.len()..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    Some((partition, rest[..digits].parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As librdkafka 2.x writes it.
    const WARNING: &str = "[thrd:main]: orders [3]: offset reset (at offset 4 (leader epoch 0), \
        broker 1) to offset BEGINNING (leader epoch -1): fetch failed due to requested offset not \
        available on the broker: Broker: Offset out of range";

    #[test]
    fn the_first_record_after_a_reset_tells_what_was_skipped() {
        let resets = Resets::default();
        resets.observe("[thrd:main]: something else [3]");
        assert_eq!(resets.check(3, 9), 0, "no reset, no skip");
        resets.observe(WARNING);
        assert_eq!(resets.check(2, 9), 0, "another partition");
        assert_eq!(resets.check(3, 9), 5, "offsets 4 to 8");
        assert_eq!(resets.check(3, 10), 0, "said once");
    }

    #[test]
    fn a_partition_that_resumes_below_the_position_skipped_nothing() {
        let resets = Resets::default();
        resets.observe(WARNING);
        assert_eq!(resets.check(3, 0), 0);
    }
}
