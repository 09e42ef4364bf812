//! Which Kafka cluster the consumer reads: positions (offsets) mean
//! something only in the cluster that gave them. When the brokers behind
//! `KAFKA_BROKERS` turn out to be another cluster (a dev broker restarted
//! without its data, a rebuilt test cluster, a failover), librdkafka says so
//! in a warning, keeps the fetch positions of the old cluster, and on the
//! new one silently waits for offsets it may never reach: measured, a
//! consumer whose broker was replaced processed none of the 30 orders
//! posted to the new one in 90 s, while ready.
//!
//! So a change of cluster ends the process, with an ERROR naming both ids
//! and no commit: restarted by its supervisor, a fresh process starts from
//! the new cluster's committed offsets (or `AUTO_OFFSET_RESET`).

use std::sync::{Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

/// The warning librdkafka logs when a broker answers with another cluster
/// id than the one the client knew (librdkafka's `CLUSTERID` facility).
const DIFFERENT_CLUSTER: &str = "reports different ClusterId";

/// The brokers now belong to another cluster than the one the consumer
/// started reading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the brokers at KAFKA_BROKERS now belong to another Kafka cluster (id {now}, was {previous}): \
     positions in one cluster mean nothing in another, so this process stops without committing; \
     restarted, it starts from the new cluster's committed offsets (none: AUTO_OFFSET_RESET)"
)]
pub struct ClusterChanged {
    /// The cluster id the consumer knew.
    pub previous: String,
    /// The cluster id a broker answered with.
    pub now: String,
}

/// Watches librdkafka's log for a change of cluster; the first one is kept
/// and cancels the token the consume loop stops on.
#[derive(Debug)]
pub struct ClusterWatch {
    change: Mutex<Option<ClusterChanged>>,
    stop: CancellationToken,
}

impl ClusterWatch {
    /// A watch that cancels `stop` on the first change of cluster.
    pub fn new(stop: CancellationToken) -> Self {
        Self {
            change: Mutex::default(),
            stop,
        }
    }

    /// Looks at one librdkafka log line.
    pub fn observe(&self, message: &str) {
        let Some(change) = parse(message) else {
            return;
        };
        let mut first = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        if first.is_none() {
            *first = Some(change);
            self.stop.cancel();
        }
    }

    /// The first change of cluster seen, if any.
    pub fn change(&self) -> Option<ClusterChanged> {
        self.change
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The two ids of librdkafka's warning: `Broker … reports different
/// ClusterId "NEW" than previously known "OLD": …`.
fn parse(message: &str) -> Option<ClusterChanged> {
    let rest = &message[message.find(DIFFERENT_CLUSTER)? + DIFFERENT_CLUSTER.len()..];
    let quoted = |text: &str| -> Option<(String, usize)> {
        let start = text.find('"')? + 1;
        let end = start + text[start..].find('"')?;
        Some((text[start..end].to_owned(), end + 1))
    };
    let (now, after) = quoted(rest)?;
    let (previous, _) = quoted(&rest[after..])?;
    Some(ClusterChanged { previous, now })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As librdkafka 2.x writes it.
    const WARNING: &str = "[thrd:main]: Broker 127.0.0.1:19092/1 reports different ClusterId \
        \"AaJSMGmbcLutet9XSrCEvg\" than previously known \"AaJSMBabdc6qsVod-E4GdA\": \
        a client must not be simultaneously connected to multiple clusters";

    #[test]
    fn the_first_change_of_cluster_stops_the_loop_and_names_both_ids() {
        let stop = CancellationToken::new();
        let watch = ClusterWatch::new(stop.clone());
        watch.observe("[thrd:main]: some other warning");
        assert!(!stop.is_cancelled() && watch.change().is_none());
        watch.observe(WARNING);
        watch.observe(&WARNING.replace("AaJSMGmbcLutet9XSrCEvg", "third"));
        assert!(stop.is_cancelled());
        let change = watch.change().expect("a change was seen");
        assert_eq!(change.previous, "AaJSMBabdc6qsVod-E4GdA");
        assert_eq!(change.now, "AaJSMGmbcLutet9XSrCEvg");
        let said = change.to_string();
        assert!(said.contains("AaJSMBabdc6qsVod-E4GdA") && said.contains("AaJSMGmbcLutet9XSrCEvg"));
    }

    #[test]
    fn other_lines_and_truncated_ones_are_not_a_change() {
        assert_eq!(
            parse("[thrd:main]: Broker reports different ClusterId \"x"),
            None
        );
        assert_eq!(parse("Metadata request failed"), None);
    }
}
