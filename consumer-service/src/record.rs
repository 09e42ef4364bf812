//! What the worker does with one record: decode it, run the business step
//! (retried with capped backoff), or dead-letter it, all in the trace the
//! publishing request started.

use std::time::{Duration, Instant};

use metrics::{Counter, Histogram};
use order_contract::{Order, headers};
use rdkafka::message::{Headers, Message};
use service_kit::trace_context::Trace;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backoff::{Backoff, Interrupted};
use crate::dead_letter::DeadLetters;
use crate::handler::{self, Poison, Position, Process};

/// Everything the consume loop needs to handle a record.
pub(crate) struct Records<P> {
    pub(crate) processor: P,
    pub(crate) dead_letters: DeadLetters,
    /// Tries of the business step before a record is dead-lettered.
    pub(crate) attempts: u32,
    pub(crate) cancel: CancellationToken,
    pub(crate) metrics: RecordMetrics,
}

/// The per-record metrics, looked up once: a lookup by name and labels
/// costs more than the update.
pub(crate) struct RecordMetrics {
    ok: Counter,
    dead_lettered: Counter,
    retried: Counter,
    duration: Histogram,
}

impl RecordMetrics {
    pub(crate) fn new() -> Self {
        let processed =
            |result: &'static str| metrics::counter!("orders_processed_total", "result" => result);
        Self {
            ok: processed("ok"),
            dead_lettered: processed("dead_lettered"),
            retried: processed("retried"),
            duration: metrics::histogram!("order_processing_duration_seconds"),
        }
    }
}

/// How the business step ended for one order.
enum Attempts {
    Succeeded,
    GaveUp(Poison),
}

impl<P: Process> Records<P> {
    /// Handles one record: processes it, or dead-letters it. `Ok` when its
    /// offset may be stored.
    pub(crate) async fn handle(&self, message: &impl Message) -> Result<(), Interrupted> {
        // Every log line about this record carries the trace the publishing
        // request started, so one grep follows an order across services.
        let trace = Trace::continue_or_start(traceparent(message));
        let span = tracing::info_span!("record", trace_id = %trace.trace_id_hex());
        trace.adopt(&span);
        let started = Instant::now();
        let handled = self.handle_timed(message).instrument(span).await;
        self.metrics.duration.record(started.elapsed());
        handled
    }

    async fn handle_timed(&self, message: &impl Message) -> Result<(), Interrupted> {
        let at = Position {
            partition: message.partition(),
            offset: message.offset(),
        };
        let poison = match handler::decode(message.payload()) {
            Ok(order) => match self.process(&order, at).await? {
                Attempts::Succeeded => {
                    self.metrics.ok.increment(1);
                    return Ok(());
                }
                Attempts::GaveUp(poison) => poison,
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
        self.dead_letters
            .send(message, &reason, &self.cancel)
            .await?;
        self.metrics.dead_lettered.increment(1);
        Ok(())
    }

    /// Runs the business step, retrying failures with capped backoff.
    async fn process(&self, order: &Order, at: Position) -> Result<Attempts, Interrupted> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut attempt = 1;
        loop {
            let error = match self.processor.process(order, at).await {
                Ok(()) => return Ok(Attempts::Succeeded),
                Err(error) => error,
            };
            if attempt >= self.attempts {
                return Ok(Attempts::GaveUp(Poison::Exhausted {
                    attempts: attempt,
                    last: error,
                }));
            }
            tracing::warn!(order_id = %order.order_id, attempt, %error, retry_in_ms = backoff.next().as_millis(), "processing failed; retrying");
            self.metrics.retried.increment(1);
            backoff.wait(&self.cancel).await?;
            attempt += 1;
        }
    }
}

/// The record's `traceparent` header, if it has a readable one.
fn traceparent(message: &impl Message) -> Option<&str> {
    message
        .headers()?
        .iter()
        .find(|header| header.key == headers::TRACEPARENT)
        .and_then(|header| std::str::from_utf8(header.value?).ok())
}
