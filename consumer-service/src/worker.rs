//! The consume loop: at-least-once processing of the orders topic.
//!
//! Offsets are stored only after a record was handled (processed, or
//! acknowledged by the dead-letter topic) and librdkafka commits stored
//! offsets in the background, so a crash replays at most one commit interval.
//! A record that shutdown interrupts ends the loop: no later record of its
//! partition may store an offset past it.

use std::sync::Arc;

use anyhow::Context;
use rdkafka::consumer::Consumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use service_kit::Readiness;
use service_kit::kafka::ClientSettings;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::context::{GroupContext, OrdersConsumer};
use crate::dead_letter::DeadLetters;
use crate::group::leave_group;
use crate::handler::Process;
use crate::progress::{self, Progress};
use crate::record::{RecordMetrics, Records};
use crate::replaced::{self, ReplacedWatch};

/// The consumer settings: a group member with at-least-once offset handling
/// (auto-commit on, offset store manual).
pub fn client_config(config: &Config) -> ClientSettings {
    let mut settings = config.kafka.client_config([
        ("client.id", "consumer-service".to_owned()),
        ("group.id", config.consumer_group.clone()),
        ("enable.auto.commit", "true".to_owned()),
        (
            "auto.commit.interval.ms",
            config.commit_interval_ms.to_string(),
        ),
        ("enable.auto.offset.store", "false".to_owned()),
        (
            "statistics.interval.ms",
            service_kit::metrics::STATISTICS_INTERVAL_MS.to_owned(),
        ),
        (
            "auto.offset.reset",
            config.auto_offset_reset.as_str().to_owned(),
        ),
        // librdkafka prefetches up to 64 MiB by default; against a broker
        // that serves faster than the business step, that is the service's
        // memory. 2 MiB is thousands of orders ahead of the loop, and drains
        // as fast as 8 MiB did (BENCHMARKS.md) at half the peak memory:
        // unset, fetch.max.bytes is lowered to it too. Once the queue is
        // full, the next fetch waits 1 s by default, which would starve the
        // loop: 10 ms keeps it fed.
        ("queued.max.messages.kbytes", "2048".to_owned()),
        ("fetch.queue.backoff.ms", "10".to_owned()),
    ]);
    // The only word librdkafka says of a recreated topic is a debug line.
    settings.add_debug_context(replaced::DEBUG_CONTEXT);
    settings
}

/// Consumes until `cancel` fires, then commits and leaves the group.
///
/// # Errors
/// Fails if a Kafka client cannot be created or the topic cannot be
/// subscribed, or, without a commit, when the cluster or the topic turns
/// out to be another one ([`crate::replaced::Replaced`]).
pub async fn consume(
    config: &Config,
    processor: impl Process,
    readiness: Readiness,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let progress = Arc::new(Progress::default());
    // Fired by shutdown, or by a replaced cluster or topic (read after
    // the loop).
    let stop = cancel.child_token();
    let replaced = ReplacedWatch::new(&config.orders_topic, stop.clone());
    let consumer: OrdersConsumer = client_config(config)
        .create(GroupContext::new(
            readiness.clone(),
            Arc::clone(&progress),
            replaced,
        ))
        .context("cannot create the Kafka consumer")?;
    // Stopped with this function, however it returns.
    let watching = CancellationToken::new();
    let _stop_watching = watching.clone().drop_guard();
    tokio::spawn(progress::watch(
        progress,
        readiness.clone(),
        config.stall_timeout(),
        watching,
    ));
    let records = Records {
        processor,
        dead_letters: DeadLetters::new(config).context("cannot create the dead-letter producer")?,
        attempts: config.process_attempts.max(1),
        cancel: stop.clone(),
        metrics: RecordMetrics::new(),
    };
    consumer
        .subscribe(&[&config.orders_topic])
        .with_context(|| format!("cannot subscribe to {}", config.orders_topic))?;
    tracing::info!(topic = %config.orders_topic, group = %config.consumer_group, "consumer started");

    loop {
        // Cancellation first: once shutdown began, no further record starts.
        let message = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            message = consumer.recv() => message,
        };
        match message {
            Ok(message) => {
                let context = consumer.context();
                context
                    .resets()
                    .check(message.partition(), message.offset());
                context.progress().took();
                if records.handle(&message).await.is_err() {
                    tracing::info!(
                        partition = message.partition(),
                        offset = message.offset(),
                        "stopping interrupted this record's retries; its partition's next owner handles it"
                    );
                    break;
                }
                // Handled while the cluster or topic was replaced: its
                // offset names a place in the old one.
                if stop.is_cancelled() && consumer.context().replaced().seen().is_some() {
                    break;
                }
                store_offset(&consumer, &message);
            }
            // Handling took longer than max.poll.interval.ms: librdkafka
            // left the group and rejoins on the next poll. Say so loudly.
            Err(KafkaError::MessageConsumption(RDKafkaErrorCode::PollExceeded)) => {
                readiness.set_connected(false);
                tracing::error!(
                    "processing exceeded max.poll.interval.ms; left the group, rejoining"
                );
            }
            // Other errors are transient (broker gone, rebalance in progress,
            // a refused TLS handshake): librdkafka keeps reconnecting, so
            // report (throttled) and go on.
            Err(error) => consumer.context().consume_error(&error),
        }
    }

    if let Some(replaced) = consumer.context().replaced().seen() {
        readiness.set_connected(false);
        // These positions belong to the old cluster or topic: no final
        // commit, and no close either, which would commit them (a
        // recreated topic takes commits by name).
        std::mem::forget(consumer);
        return Err(replaced.into());
    }
    // Every dead letter was awaited to its acknowledgement, so there is
    // nothing left to flush.
    leave_group(consumer, config.final_commit_timeout()).await;
    Ok(())
}

fn store_offset(consumer: &OrdersConsumer, message: &BorrowedMessage<'_>) {
    consumer.context().progress().made();
    if let Err(error) = consumer.store_offset_from_message(message) {
        // Happens when the partition was revoked while the record was being
        // handled; its new owner will process it again (at least once).
        tracing::debug!(partition = message.partition(), offset = message.offset(), %error, "offset not stored");
    }
}
