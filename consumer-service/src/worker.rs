//! The consume loop: at-least-once processing of the orders topic.
//!
//! Offsets are stored only after a record was handled (processed, or
//! acknowledged by the dead-letter topic) and librdkafka commits stored
//! offsets in the background, so a crash replays at most one commit interval.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use service_kit::Readiness;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::context::GroupContext;
use crate::dead_letter::DeadLetters;
use crate::handler::{self, Position};

/// The group consumer this service uses.
pub type OrdersConsumer = StreamConsumer<GroupContext>;

/// The consumer settings: a group member with at-least-once offset handling
/// (auto-commit on, offset store manual).
pub fn client_config(config: &Config) -> ClientConfig {
    config.kafka.client_config([
        ("client.id", "consumer-service".to_owned()),
        ("group.id", config.consumer_group.clone()),
        ("enable.auto.commit", "true".to_owned()),
        (
            "auto.commit.interval.ms",
            config.commit_interval_ms.to_string(),
        ),
        ("enable.auto.offset.store", "false".to_owned()),
        (
            "auto.offset.reset",
            config.auto_offset_reset.as_str().to_owned(),
        ),
    ])
}

/// Consumes until `cancel` fires, then commits and leaves the group.
///
/// # Errors
/// Fails if a Kafka client cannot be created or the topic cannot be subscribed.
pub async fn consume(
    config: &Config,
    readiness: Readiness,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let consumer: Arc<OrdersConsumer> = Arc::new(
        client_config(config)
            .create_with_context(GroupContext::new(readiness))
            .context("cannot create the Kafka consumer")?,
    );
    let dead_letters =
        DeadLetters::new(config).context("cannot create the dead-letter producer")?;
    consumer
        .subscribe(&[&config.orders_topic])
        .with_context(|| format!("cannot subscribe to {}", config.orders_topic))?;
    tracing::info!(topic = %config.orders_topic, group = %config.consumer_group, "consumer started");

    loop {
        let message = tokio::select! {
            () = cancel.cancelled() => break,
            message = consumer.recv() => message,
        };
        match message {
            Ok(message) => {
                if handle(&message, &dead_letters, &cancel).await {
                    store_offset(&consumer, &message);
                }
            }
            // Errors here are transient (broker gone, rebalance in progress):
            // librdkafka keeps reconnecting, so report and go on.
            Err(error) => tracing::warn!(%error, "consumer error"),
        }
    }

    dead_letters.flush(Duration::from_secs(5)).await;
    tokio::task::spawn_blocking(move || leave_group(&consumer))
        .await
        .context("shutdown task failed")?;
    Ok(())
}

/// Handles one record; true once it is done with (processed or dead-lettered).
async fn handle(
    message: &BorrowedMessage<'_>,
    dead_letters: &DeadLetters,
    cancel: &CancellationToken,
) -> bool {
    let at = Position {
        partition: message.partition(),
        offset: message.offset(),
    };
    match handler::handle(message.payload(), at) {
        Ok(()) => true,
        Err(poison) => {
            let reason = poison.to_string();
            tracing::warn!(partition = at.partition, offset = at.offset, %reason, "poison record; dead-lettering it");
            dead_letters.send(message, &reason, cancel).await
        }
    }
}

fn store_offset(consumer: &OrdersConsumer, message: &BorrowedMessage<'_>) {
    if let Err(error) = consumer.store_offset_from_message(message) {
        // Happens when the partition was revoked while the record was being
        // handled; its new owner will process it again (at least once).
        tracing::debug!(partition = message.partition(), offset = message.offset(), %error, "offset not stored");
    }
}

/// Commits the stored offsets and closes the consumer so the group rebalances
/// at once instead of waiting for the session to time out. Blocks.
fn leave_group(consumer: &Arc<OrdersConsumer>) {
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
}
