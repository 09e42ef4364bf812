//! Hooks librdkafka calls on group events: rebalances drive readiness and
//! commit what was processed before partitions move to another instance.

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use service_kit::Readiness;

/// The consumer's context: reports rebalances and keeps [`Readiness`] in step
/// with the group membership.
pub struct GroupContext {
    readiness: Readiness,
}

impl GroupContext {
    /// A context that reports membership into `readiness`.
    pub fn new(readiness: Readiness) -> Self {
        Self { readiness }
    }
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            self.readiness.set_connected(false);
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
            // Commit what was processed so the next owner starts right after it.
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(error) => tracing::warn!(%error, "commit before revocation failed"),
            }
            tracing::info!(partitions = %describe(partitions), "partitions revoked");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                self.readiness.set_connected(true);
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
