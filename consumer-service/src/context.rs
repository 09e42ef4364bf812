//! Hooks librdkafka calls on group events: rebalances drive readiness,
//! metrics and log lines; its log is watched for a replaced cluster or
//! topic ([`crate::replaced`]) and for reset positions ([`crate::skips`]), and its
//! statistics give the records waiting ([`crate::progress`]).
//!
//! They run inside `StreamConsumer::recv`'s poll, on a runtime thread, so
//! they must not block. Nothing here commits: with `enable.auto.commit`,
//! librdkafka itself commits the stored offsets of revoked partitions before
//! it gives them up, in the background.

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientContext, Statistics};
use service_kit::{Readiness, ServiceContext};

use std::sync::Arc;

use crate::progress::Progress;
use crate::replaced::ReplacedWatch;
use crate::skips::Resets;

/// The group consumer this service uses.
pub type OrdersConsumer = StreamConsumer<GroupContext>;

/// The consumer's context: reports rebalances, keeps [`Readiness`] in step
/// with the group membership, and otherwise does what [`ServiceContext`]
/// does (throttled logs, statistics as metrics).
pub struct GroupContext {
    readiness: Readiness,
    client: ServiceContext,
    replaced: ReplacedWatch,
    progress: Arc<Progress>,
    resets: Resets,
}

impl GroupContext {
    /// A context that reports membership into `readiness`, records waiting
    /// and assignments into `progress`, and feeds librdkafka's log to
    /// `replaced`.
    pub fn new(readiness: Readiness, progress: Arc<Progress>, replaced: ReplacedWatch) -> Self {
        Self {
            readiness,
            client: ServiceContext::default(),
            replaced,
            progress,
            resets: Resets::default(),
        }
    }

    /// Positions librdkafka reset, waiting for their next record.
    pub fn resets(&self) -> &Resets {
        &self.resets
    }

    /// The consume loop's progress.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Whether the cluster or the topic was replaced.
    pub fn replaced(&self) -> &ReplacedWatch {
        &self.replaced
    }
}

impl GroupContext {
    /// Reports an error the consume loop received, held back like
    /// librdkafka's own: a broker that refuses the TLS handshake fails every
    /// poll, and one line per kind every 30 s says it.
    pub fn consume_error(&self, error: &KafkaError) {
        self.client.client_error(error, "consume");
    }
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.replaced.observe(message);
        self.resets.observe(message);
        self.client.log_line(level, facility, message);
    }

    fn stats(&self, statistics: Statistics) {
        // Records past the last stored offset, in the partitions this
        // instance owns (-1 elsewhere): handled or not, they wait.
        let waiting = statistics
            .topics
            .values()
            .flat_map(|topic| topic.partitions.values())
            .filter(|partition| partition.partition >= 0)
            .map(|partition| partition.consumer_lag_stored.max(0))
            .sum();
        self.progress.set_waiting(waiting);
        self.client.stats(statistics);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.client.client_error(&error, reason);
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            self.readiness.set_connected(false);
            self.progress.set_waiting(0);
            metrics::counter!("kafka_consumer_rebalances_total", "kind" => "revoke").increment(1);
            metrics::gauge!("kafka_consumer_assigned_partitions").set(0.0);
            if consumer.assignment_lost() {
                // The group moved on without us (session timeout, or the
                // coordinator fenced us): a commit would be refused, and
                // the partitions' next owner reprocesses what we did since
                // the last commit.
                tracing::error!(
                    partitions = %describe(partitions),
                    "group membership lost; partitions revoked without a commit, rejoining"
                );
                return;
            }
            tracing::info!(partitions = %describe(partitions), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                self.readiness.set_connected(true);
                self.progress.made();
                metrics::counter!("kafka_consumer_rebalances_total", "kind" => "assign")
                    .increment(1);
                metrics::gauge!("kafka_consumer_assigned_partitions")
                    .set(partitions.count() as f64);
                tracing::info!(partitions = %describe(partitions), "partitions assigned");
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => tracing::error!(%error, "rebalance failed"),
        }
    }
}

fn describe(partitions: &rdkafka::TopicPartitionList) -> String {
    let list: Vec<String> = partitions
        .elements()
        .iter()
        .map(|p| format!("{}[{}]", p.topic(), p.partition()))
        .collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(",")
    }
}
