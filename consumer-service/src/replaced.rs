//! What the consumer's positions belong to: offsets mean something only in
//! the cluster and the topic that gave them. librdkafka keeps its fetch
//! positions when either is replaced under the same name, and reads on:
//!
//! - **another cluster** behind `KAFKA_BROKERS` (a dev broker restarted
//!   without its data, a rebuilt test cluster, a failover): it warns (and
//!   names each metadata answer's cluster in a debug line), then waits for
//!   offsets the new cluster may never reach (measured: none of
//!   30 orders posted to the new cluster processed in 90 s, while ready);
//! - **the topic deleted and created again** (same name, new topic id): it
//!   says so only in a debug line (`debug=metadata`, which the consumer turns
//!   on for this), and fetches the new topic from the old positions, so every
//!   record below them is skipped in silence (librdkafka's own FIXME in
//!   `rd_kafka_topic_metadata_update`; measured: 300 of 600 orders skipped).
//!
//! So either ends the consume loop without a commit and the process with an
//! ERROR naming both ids: restarted by its supervisor, a fresh process starts
//! from the committed offsets (none, after either change: `AUTO_OFFSET_RESET`).

use std::sync::{Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

/// librdkafka's debug context that reports a change of topic id.
pub const DEBUG_CONTEXT: &str = "metadata";

/// The warning librdkafka logs when a broker answers with another cluster
/// id than the one the client knew (its `CLUSTERID` facility).
const DIFFERENT_CLUSTER: &str = "reports different ClusterId";

/// The debug line that starts each metadata answer: `ClusterId: ID,
/// ControllerId: N`.
const ANSWERING_CLUSTER: &str = "ClusterId: ";

/// The debug line of a topic whose id changed: `Topic NAME changed id from
/// OLD to NEW`.
const CHANGED_TOPIC_ID: &str = " changed id from ";

/// The id librdkafka knows a topic by before its first metadata (all zero):
/// going from it is learning the id, not a change.
const NO_TOPIC_ID: &str = "AAAAAAAAAAAAAAAAAAAAAA";

/// What the consumer's positions belonged to was replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Replaced {
    /// The brokers now belong to another cluster.
    #[error(
        "the brokers at KAFKA_BROKERS now belong to another Kafka cluster (id {now}, was {previous}): \
         positions in one cluster mean nothing in another, so this process stops without committing; \
         restarted, it starts from the new cluster's committed offsets (none: AUTO_OFFSET_RESET)"
    )]
    Cluster {
        /// The cluster id the consumer knew.
        previous: String,
        /// The cluster id a broker answered with.
        now: String,
    },
    /// The topic was deleted and created again.
    #[error(
        "topic {topic} was deleted and created again (topic id {now}, was {previous}): \
         positions in the old topic mean nothing in the new one, so this process stops without committing; \
         restarted, it starts from the new topic's committed offsets (none: AUTO_OFFSET_RESET)"
    )]
    Topic {
        /// The topic's name.
        topic: String,
        /// The topic id the consumer knew.
        previous: String,
        /// The new topic's id.
        now: String,
    },
}

/// Watches librdkafka's log for a replaced cluster or topic; the first one
/// is kept and cancels the token the consume loop stops on.
#[derive(Debug)]
pub struct ReplacedWatch {
    topic: String,
    state: Mutex<State>,
    stop: CancellationToken,
}

#[derive(Debug, Default)]
struct State {
    /// The cluster id of the last metadata answer.
    cluster: Option<String>,
    seen: Option<Replaced>,
}

impl ReplacedWatch {
    /// A watch over the cluster and `topic` that cancels `stop` on the first
    /// replacement.
    pub fn new(topic: &str, stop: CancellationToken) -> Self {
        Self {
            topic: topic.to_owned(),
            state: Mutex::default(),
            stop,
        }
    }

    /// Looks at one librdkafka log line.
    pub fn observe(&self, message: &str) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // Every metadata answer names its cluster before its topics: a new
        // cluster is seen before the new ids of its topics.
        let replaced = match answering_cluster(message) {
            Some(now) => match state.cluster.replace(now.to_owned()) {
                Some(previous) if previous != now => Some(Replaced::Cluster {
                    previous,
                    now: now.to_owned(),
                }),
                _ => None,
            },
            None => cluster(message).or_else(|| topic(message, &self.topic)),
        };
        if let Some(replaced) = replaced
            && state.seen.is_none()
        {
            state.seen = Some(replaced);
            self.stop.cancel();
        }
    }

    /// The first replacement seen, if any.
    pub fn seen(&self) -> Option<Replaced> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seen
            .clone()
    }
}

/// The id of librdkafka's debug line `ClusterId: ID, ControllerId: N`, the
/// first it writes of each metadata answer.
fn answering_cluster(message: &str) -> Option<&str> {
    let rest = &message[message.find(ANSWERING_CLUSTER)? + ANSWERING_CLUSTER.len()..];
    let id = rest.split(',').next()?.trim();
    (!id.is_empty()).then_some(id)
}

/// The two ids of librdkafka's warning: `Broker … reports different
/// ClusterId "NEW" than previously known "OLD": …`.
fn cluster(message: &str) -> Option<Replaced> {
    let rest = &message[message.find(DIFFERENT_CLUSTER)? + DIFFERENT_CLUSTER.len()..];
    let quoted = |text: &str| -> Option<(String, usize)> {
        let start = text.find('"')? + 1;
        let end = start + text[start..].find('"')?;
        Some((text[start..end].to_owned(), end + 1))
    };
    let (now, after) = quoted(rest)?;
    let (previous, _) = quoted(&rest[after..])?;
    Some(Replaced::Cluster { previous, now })
}

/// The ids of librdkafka's debug line `Topic NAME changed id from OLD to
/// NEW`, for `watched` only, and not when the old id is the unknown one.
fn topic(message: &str, watched: &str) -> Option<Replaced> {
    let (head, ids) = message.split_once(CHANGED_TOPIC_ID)?;
    let name = head.rsplit_once("Topic ")?.1;
    let (previous, now) = ids.split_once(" to ")?;
    let now = now.split_whitespace().next()?;
    (name == watched && previous != NO_TOPIC_ID && previous != now).then(|| Replaced::Topic {
        topic: name.to_owned(),
        previous: previous.to_owned(),
        now: now.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As librdkafka 2.x writes them.
    const CLUSTER: &str = "[thrd:main]: Broker 127.0.0.1:19092/1 reports different ClusterId \
        \"AaJSMGmbcLutet9XSrCEvg\" than previously known \"AaJSMBabdc6qsVod-E4GdA\": \
        a client must not be simultaneously connected to multiple clusters";
    const TOPIC: &str = "[thrd:main]: Topic orders changed id from \
        3xkzY2kOQxGk1lJDEVt6dA to kxL9wZVfT0yV2mFmRPDbzg";

    #[test]
    fn the_first_replacement_stops_the_loop_and_names_both_ids() {
        let stop = CancellationToken::new();
        let watch = ReplacedWatch::new("orders", stop.clone());
        watch.observe("[thrd:main]: some other warning");
        assert!(!stop.is_cancelled() && watch.seen().is_none());
        watch.observe(CLUSTER);
        watch.observe(TOPIC);
        assert!(stop.is_cancelled());
        let Some(Replaced::Cluster { previous, now }) = watch.seen() else {
            panic!("the cluster change, first");
        };
        assert_eq!(previous, "AaJSMBabdc6qsVod-E4GdA");
        assert_eq!(now, "AaJSMGmbcLutet9XSrCEvg");
        let said = watch.seen().unwrap().to_string();
        assert!(said.contains(&previous) && said.contains(&now));
    }

    #[test]
    fn a_metadata_answer_from_another_cluster_is_seen_before_its_topics() {
        let stop = CancellationToken::new();
        let watch = ReplacedWatch::new("orders", stop.clone());
        let answer =
            |id: &str| format!("[thrd:127.0.0.1:19092/1]: ClusterId: {id}, ControllerId: 1");
        watch.observe(&answer("AaJSMBabdc6qsVod-E4GdA"));
        watch.observe(&answer("AaJSMBabdc6qsVod-E4GdA"));
        assert!(!stop.is_cancelled());
        watch.observe(&answer("AaJSMGmbcLutet9XSrCEvg"));
        watch.observe(TOPIC);
        watch.observe(CLUSTER);
        assert_eq!(
            watch.seen(),
            Some(Replaced::Cluster {
                previous: "AaJSMBabdc6qsVod-E4GdA".to_owned(),
                now: "AaJSMGmbcLutet9XSrCEvg".to_owned(),
            })
        );
        assert!(stop.is_cancelled());
    }

    #[test]
    fn a_new_id_for_the_watched_topic_is_a_replacement() {
        assert_eq!(
            topic(TOPIC, "orders"),
            Some(Replaced::Topic {
                topic: "orders".to_owned(),
                previous: "3xkzY2kOQxGk1lJDEVt6dA".to_owned(),
                now: "kxL9wZVfT0yV2mFmRPDbzg".to_owned(),
            })
        );
    }

    #[test]
    fn learning_an_id_another_topic_and_other_lines_are_not() {
        let first = format!(
            "[thrd:main]: Topic orders changed id from {NO_TOPIC_ID} to kxL9wZVfT0yV2mFmRPDbzg"
        );
        assert_eq!(topic(&first, "orders"), None);
        assert_eq!(topic(TOPIC, "orders.dlq"), None);
        assert_eq!(
            topic(&TOPIC.replace("Topic orders", "Topic orders.dlq"), "orders"),
            None
        );
        assert_eq!(
            cluster("[thrd:main]: Broker reports different ClusterId \"x"),
            None
        );
        assert_eq!(cluster("Metadata request failed"), None);
        assert_eq!(
            answering_cluster("[thrd:x]: ClusterId: , ControllerId: -1"),
            None
        );
    }
}
