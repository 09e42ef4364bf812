//! Leaving the group at shutdown: the final commit, then the close, which
//! leaves the group so that it rebalances at once instead of waiting for the
//! session to time out.

use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::context::OrdersConsumer;

/// Commits the stored offsets, then closes the consumer; waits at most
/// `timeout` for both.
///
/// librdkafka blocks in both (a commit first waits for a group coordinator,
/// up to a session timeout, then for its answer), so they run on a thread
/// of their own that is left behind when the time is up: the process then
/// exits without them, and the partitions' next owner reprocesses what was
/// not committed.
pub(crate) async fn leave_group(consumer: OrdersConsumer, timeout: Duration) {
    let (done, left) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("leave-group".to_owned())
        .spawn(move || {
            commit_and_close(consumer);
            let _ = done.send(());
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the thread that commits and leaves the group");
        return;
    }
    if tokio::time::timeout(timeout, left).await.is_err() {
        tracing::error!(
            timeout_ms = timeout.as_millis(),
            "the final commit and leaving the group did not finish in time; exiting without them, so the next owner may reprocess records"
        );
    }
}

/// The final commit and the close. Blocks.
fn commit_and_close(consumer: OrdersConsumer) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => tracing::info!("offsets committed"),
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {
            tracing::info!("no new offsets to commit");
        }
        Err(error) => {
            tracing::error!(%error, "final commit failed; the next owner may reprocess records")
        }
    }
    consumer.unsubscribe();
    // Dropping closes the consumer: librdkafka leaves the group here.
    drop(consumer);
    tracing::info!("left the group");
}
