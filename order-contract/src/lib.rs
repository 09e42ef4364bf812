//! The message contract between `producer-service` and `consumer-service`.
//!
//! Everything a Kafka client needs to agree on lives here and nowhere else:
//! the [`Order`] payload, its [validation rules](validate), the default topic
//! names and the record [`headers`]. The crate does no I/O, so any tool
//! (tests, load generators, other services) can depend on it cheaply.

mod integral;
pub mod rfc3339;
mod validate;

pub use validate::{FieldError, OrderInput, limits, validate};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Topic the producer publishes orders to unless configured otherwise.
pub const DEFAULT_ORDERS_TOPIC: &str = "orders";

/// Topic the consumer republishes unprocessable records to unless configured otherwise.
pub const DEFAULT_DLQ_TOPIC: &str = "orders.dlq";

/// Version of the [`Order`] JSON layout, sent in the [`headers::SCHEMA_VERSION`] header.
///
/// Bump it only for changes old consumers cannot read; adding an optional
/// field is not such a change because consumers ignore unknown fields.
pub const SCHEMA_VERSION: &str = "1";

/// Media type of the payload, sent in the [`headers::CONTENT_TYPE`] header.
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// Names of the Kafka record headers both services read or write.
pub mod headers {
    /// Media type of the record value; always [`CONTENT_TYPE_JSON`](super::CONTENT_TYPE_JSON) for orders.
    pub const CONTENT_TYPE: &str = "content-type";
    /// Version of the payload layout, see [`SCHEMA_VERSION`](super::SCHEMA_VERSION).
    pub const SCHEMA_VERSION: &str = "schema-version";
    /// W3C trace context (`00-{trace id}-{span id}-{flags}`) of the request
    /// that published the order; the consumer continues that trace.
    pub const TRACEPARENT: &str = "traceparent";
    /// On dead-lettered records: why the consumer could not process the original.
    pub const DLQ_REASON: &str = "dlq-reason";
    /// On dead-lettered records: the topic the original was read from.
    pub const DLQ_SOURCE_TOPIC: &str = "dlq-source-topic";
    /// On dead-lettered records: the partition the original was read from.
    pub const DLQ_SOURCE_PARTITION: &str = "dlq-source-partition";
    /// On dead-lettered records: the offset of the original in its partition.
    pub const DLQ_SOURCE_OFFSET: &str = "dlq-source-offset";
    /// On dead-lettered records whose payload the dead-letter topic refused
    /// (too large, say): the original payload's size in bytes. The record
    /// then has no payload; the original stays in its source topic.
    pub const DLQ_PAYLOAD_OMITTED: &str = "dlq-payload-omitted";
}

/// An accepted order, as published to the orders topic (JSON, keyed by `order_id`).
///
/// Unknown fields are ignored when reading, so producers may add optional
/// fields without breaking running consumers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Idempotency key chosen by the client (or a UUIDv7 generated for it); also the record key.
    pub order_id: Uuid,
    /// Who placed the order.
    pub customer_id: String,
    /// ISO 4217 code of the currency every price is in.
    pub currency: String,
    /// What was ordered; never empty.
    pub items: Vec<LineItem>,
    /// Sum of `quantity * unit_price_cents` over all items, computed by the producer.
    pub total_cents: u64,
    /// When the producer accepted the order.
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One line of an [`Order`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineItem {
    /// Stock keeping unit of the product.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 64,
            pattern = "^[A-Za-z0-9._-]+$",
            example = "BOOK-1"
        )
    )]
    pub sku: String,
    /// How many units; at least one. Read from `2` or `2.0` alike, as JSON
    /// Schema's `integer` allows.
    #[serde(deserialize_with = "integral::deserialize")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000, example = 2)
    )]
    pub quantity: u32,
    /// Price of one unit in the smallest unit of the currency; read like
    /// `quantity`.
    #[serde(deserialize_with = "integral::deserialize")]
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000_000, example = 1299))]
    pub unit_price_cents: u64,
}

/// Why a record from the orders topic is not a usable [`Order`].
#[derive(Debug)]
pub enum DecodeError {
    /// The bytes are not JSON of the order's shape.
    Malformed(serde_json::Error),
    /// The JSON has the right shape but breaks a rule.
    Invalid(Vec<FieldError>),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(error) => write!(f, "malformed order JSON: {error}"),
            Self::Invalid(errors) => {
                f.write_str("invalid order: ")?;
                for (i, error) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for DecodeError {}

impl Order {
    /// Parses a record value and checks it against the business rules the
    /// producer enforces ([`validate`]), and that `total_cents` matches the items.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let order: Self = serde_json::from_slice(payload).map_err(DecodeError::Malformed)?;
        let total = validate(order.as_input()).map_err(DecodeError::Invalid)?;
        if total != order.total_cents {
            return Err(DecodeError::Invalid(vec![FieldError::new(
                "total_cents",
                format!("is {} but the items add up to {total}", order.total_cents),
            )]));
        }
        Ok(order)
    }

    /// Serializes the order as the record value.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain strings and integers cannot fail.
        serde_json::to_vec(self).expect("an Order always serializes")
    }

    /// The fields [`validate`] checks.
    pub fn as_input(&self) -> OrderInput<'_> {
        OrderInput {
            customer_id: &self.customer_id,
            currency: &self.currency,
            items: &self.items,
        }
    }
}

#[cfg(test)]
mod tests;
