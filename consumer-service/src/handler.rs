//! What one record means: [`decode`] turns it into an [`Order`] or says why it
//! is poison, and a [`Process`] implementation does the business step.
//! [`LogOrder`], the service's step, logs one line per order; replace it with
//! real work (a database write, a call to another service).

use std::future::Future;

use order_contract::{DecodeError, Order};

/// Position of a record, for log lines and the business step.
#[derive(Debug, Clone, Copy)]
pub struct Position {
    /// Partition the record was read from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// Why the worker gives up on a record and dead-letters it: it can never be
/// processed, or processing failed on every attempt.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Poison {
    /// The record has no value (a tombstone or a bad producer).
    #[error("the record has no value")]
    Empty,
    /// The value is not a valid order.
    #[error(transparent)]
    Undecodable(#[from] DecodeError),
    /// Processing kept failing; see [`ProcessError`].
    #[error("processing failed {attempts} times, last: {last}")]
    Exhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error.
        last: ProcessError,
    },
}

/// Reads a record's value as an order.
pub(crate) fn decode(payload: Option<&[u8]>) -> Result<Order, Poison> {
    Ok(Order::decode(payload.ok_or(Poison::Empty)?)?)
}

/// A failure of the business step, worth retrying (a dependency was down).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ProcessError(pub String);

/// The business step for one valid order. The worker retries a failing call
/// with capped backoff and dead-letters the record after the configured
/// number of attempts, so an implementation must tolerate being called again
/// for the same order (at-least-once delivery does that too): use
/// `order.order_id` as the idempotency key.
pub trait Process: Send + Sync + 'static {
    /// Processes `order`, read from `at`.
    fn process(
        &self,
        order: &Order,
        at: Position,
    ) -> impl Future<Output = Result<(), ProcessError>> + Send;
}

/// The service's business step: one structured INFO line per order.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOrder;

impl Process for LogOrder {
    async fn process(&self, order: &Order, at: Position) -> Result<(), ProcessError> {
        tracing::info!(
            order_id = %order.order_id,
            customer_id = %order.customer_id,
            items = order.items.len(),
            total_cents = order.total_cents,
            currency = %order.currency,
            partition = at.partition,
            offset = at.offset,
            "order processed"
        );
        Ok(())
    }
}
