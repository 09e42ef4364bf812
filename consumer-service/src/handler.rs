//! What the service does with one record: decode it into an [`Order`] and
//! process it, or say why it cannot.

use order_contract::{DecodeError, Order};

/// Position of a record, for log lines and dead-letter headers.
#[derive(Debug, Clone, Copy)]
pub struct Position {
    /// Partition the record was read from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// Why a record is poison: it can never be processed, however often retried.
#[derive(Debug, thiserror::Error)]
pub enum Poison {
    /// The record has no value (a tombstone or a bad producer).
    #[error("the record has no value")]
    Empty,
    /// The value is not a valid order.
    #[error(transparent)]
    Undecodable(#[from] DecodeError),
}

/// Processes one record's value. Processing here is logging one line per
/// order; a real service would call its business logic at this point.
pub fn handle(payload: Option<&[u8]>, at: Position) -> Result<(), Poison> {
    let order = Order::decode(payload.ok_or(Poison::Empty)?)?;
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
