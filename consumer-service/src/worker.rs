//! The consume loop: at-least-once processing of the orders topic.
//!
//! Offsets are stored only after a record was handled (processed, or
//! acknowledged by the dead-letter topic) and librdkafka commits stored
//! offsets in the background, so a crash replays at most one commit interval.
//! A record that shutdown interrupts ends the loop: no later record of its
//! partition may store an offset past it.

use std::time::{Duration, Instant};

use anyhow::Context;
use order_contract::headers;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use service_kit::Readiness;
use service_kit::kafka::ClientSettings;
use service_kit::trace_context::Trace;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::config::Config;
use crate::context::GroupContext;
use crate::dead_letter::DeadLetters;
use crate::handler::{self, Poison, Position, Process};

/// What became of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Handled {
    /// Processed, or acknowledged by the dead-letter topic: its offset may
    /// be stored.
    Done,
    /// Shutdown came while it was being retried: it is not handled, so
    /// neither its offset nor any later one of its partition may be stored.
    Interrupted,
}

/// How the business step ended for one order.
enum Attempts {
    Succeeded,
    GaveUp(Poison),
    Interrupted,
}

/// The group consumer this service uses.
pub type OrdersConsumer = StreamConsumer<GroupContext>;

/// The consumer settings: a group member with at-least-once offset handling
/// (auto-commit on, offset store manual).
pub fn client_config(config: &Config) -> ClientSettings {
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
            "statistics.interval.ms",
            service_kit::metrics::STATISTICS_INTERVAL_MS.to_owned(),
        ),
        (
            "auto.offset.reset",
            config.auto_offset_reset.as_str().to_owned(),
        ),
        // librdkafka prefetches up to 64 MiB by default; against a broker
        // that serves faster than the business step, that is the service's
        // memory. 8 MiB is tens of thousands of orders ahead of the loop;
        // once the queue is full, the next fetch waits 1 s by default,
        // which would starve the loop: 10 ms keeps it fed.
        ("queued.max.messages.kbytes", "8192".to_owned()),
        ("fetch.queue.backoff.ms", "10".to_owned()),
    ])
}

/// Consumes until `cancel` fires, then commits and leaves the group.
///
/// # Errors
/// Fails if a Kafka client cannot be created or the topic cannot be subscribed.
pub async fn consume(
    config: &Config,
    processor: impl Process,
    readiness: Readiness,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let consumer: OrdersConsumer = client_config(config)
        .create(GroupContext::new(readiness.clone()))
        .context("cannot create the Kafka consumer")?;
    let worker = Worker {
        processor,
        dead_letters: DeadLetters::new(config).context("cannot create the dead-letter producer")?,
        attempts: config.process_attempts.max(1),
        cancel: cancel.clone(),
    };
    consumer
        .subscribe(&[&config.orders_topic])
        .with_context(|| format!("cannot subscribe to {}", config.orders_topic))?;
    tracing::info!(topic = %config.orders_topic, group = %config.consumer_group, "consumer started");

    loop {
        // Cancellation first: once shutdown began, no further record starts.
        let message = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            message = consumer.recv() => message,
        };
        match message {
            Ok(message) => match worker.handle(&message).await {
                Handled::Done => store_offset(&consumer, &message),
                Handled::Interrupted => {
                    tracing::info!(
                        partition = message.partition(),
                        offset = message.offset(),
                        "shutdown interrupted this record's retries; its partition's next owner handles it"
                    );
                    break;
                }
            },
            // Processing took longer than max.poll.interval.ms: librdkafka
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

    // Every dead letter was awaited to its acknowledgement, so there is
    // nothing left to flush.
    leave_group(consumer, config.final_commit_timeout()).await;
    Ok(())
}

/// Everything needed to handle one record.
struct Worker<P> {
    processor: P,
    dead_letters: DeadLetters,
    attempts: u32,
    cancel: CancellationToken,
}

impl<P: Process> Worker<P> {
    /// Handles one record: processes it, or dead-letters it.
    async fn handle(&self, message: &BorrowedMessage<'_>) -> Handled {
        // Every log line about this record carries the trace the publishing
        // request started, so one grep follows an order across services.
        let trace = Trace::continue_or_start(traceparent(message));
        let span = tracing::info_span!("record", trace_id = %trace.trace_id);
        trace.adopt(&span);
        let started = Instant::now();
        let handled = self.handle_timed(message).instrument(span).await;
        metrics::histogram!("order_processing_duration_seconds").record(started.elapsed());
        handled
    }

    async fn handle_timed(&self, message: &BorrowedMessage<'_>) -> Handled {
        let at = Position {
            partition: message.partition(),
            offset: message.offset(),
        };
        let poison = match handler::decode(message.payload()) {
            Ok(order) => match self.process(&order, at).await {
                Attempts::Succeeded => {
                    metrics::counter!("orders_processed_total", "result" => "ok").increment(1);
                    return Handled::Done;
                }
                Attempts::GaveUp(poison) => poison,
                Attempts::Interrupted => return Handled::Interrupted,
            },
            Err(poison) => poison,
        };
        let reason = poison.to_string();
        // The key is the order_id for every record producer-service wrote, so
        // a dead letter can be matched with the order (and its duplicates).
        let key = message.key().map(String::from_utf8_lossy);
        tracing::warn!(
            key = key.as_deref().unwrap_or_default(),
            partition = at.partition,
            offset = at.offset,
            %reason,
            "poison record; dead-lettering it"
        );
        let handled = self.dead_letters.send(message, &reason, &self.cancel).await;
        if handled == Handled::Done {
            metrics::counter!("orders_processed_total", "result" => "dead_lettered").increment(1);
        }
        handled
    }

    /// Runs the business step, retrying failures with capped backoff.
    async fn process(&self, order: &order_contract::Order, at: Position) -> Attempts {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut attempt = 1;
        loop {
            let error = match self.processor.process(order, at).await {
                Ok(()) => return Attempts::Succeeded,
                Err(error) => error,
            };
            if attempt >= self.attempts {
                return Attempts::GaveUp(Poison::Exhausted {
                    attempts: attempt,
                    last: error,
                });
            }
            tracing::warn!(order_id = %order.order_id, attempt, %error, retry_in_ms = backoff.next().as_millis(), "processing failed; retrying");
            metrics::counter!("orders_processed_total", "result" => "retried").increment(1);
            if !backoff.wait(&self.cancel).await {
                return Attempts::Interrupted;
            }
            attempt += 1;
        }
    }
}

/// The record's `traceparent` header, if it has a readable one.
fn traceparent<'a>(message: &'a BorrowedMessage<'_>) -> Option<&'a str> {
    message
        .headers()?
        .iter()
        .find(|header| header.key == headers::TRACEPARENT)
        .and_then(|header| std::str::from_utf8(header.value?).ok())
}

fn store_offset(consumer: &OrdersConsumer, message: &BorrowedMessage<'_>) {
    if let Err(error) = consumer.store_offset_from_message(message) {
        // Happens when the partition was revoked while the record was being
        // handled; its new owner will process it again (at least once).
        tracing::debug!(partition = message.partition(), offset = message.offset(), %error, "offset not stored");
    }
}

/// Commits the stored offsets, then closes the consumer, which leaves the
/// group so it rebalances at once instead of waiting for the session to time
/// out; waits at most `timeout` for both.
///
/// librdkafka blocks in both (a commit first waits for a group coordinator,
/// up to a session timeout, then for its answer), so they run on a thread
/// of their own that is left behind when the time is up: the process then
/// exits without them, and the partitions' next owner reprocesses what was
/// not committed.
async fn leave_group(consumer: OrdersConsumer, timeout: Duration) {
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
