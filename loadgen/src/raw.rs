//! Kafka directly, with producer-service's own [`Publisher`]: the same
//! settings (`acks=all`, idempotence, linger, batching, queue limit),
//! the same encoding and headers, only no HTTP. The gap between this and
//! [`crate::http`] is the cost of the HTTP layer.

use std::borrow::Cow;

use anyhow::Context;
use clap::Parser;
use order_contract::Order;
use producer_service::publisher::{PublishError, Publisher};
use service_kit::trace_context::Trace;

use crate::run::{Answer, Target};

/// Publishes orders to a topic the way producer-service does.
pub struct RawTarget {
    publisher: Publisher,
}

impl RawTarget {
    /// A publisher for `topic` on `brokers`. The environment variables
    /// producer-service reads (`KAFKA_PROPERTIES`, `DELIVERY_TIMEOUT_MS`,
    /// `MAX_IN_FLIGHT_ORDERS`…) apply here too, so both run alike.
    ///
    /// # Errors
    /// If the settings do not parse or the producer cannot be created.
    pub fn new(brokers: &str, topic: &str) -> anyhow::Result<Self> {
        let config = producer_service::Config::try_parse_from([
            "producer-service",
            "--kafka-brokers",
            brokers,
            "--orders-topic",
            topic,
        ])
        .context("producer settings")?;
        Ok(Self {
            publisher: Publisher::new(&config).context("cannot create the Kafka producer")?,
        })
    }
}

impl Target for RawTarget {
    async fn send(&self, order: &Order) -> Answer {
        // A fresh trace per order, as the service starts one per request
        // without a traceparent: same headers, same work.
        let span = tracing::Span::none();
        let traceparent = Trace::continue_or_start(None).traceparent(&span);
        let label = match self.publisher.publish(order, &traceparent).await {
            Ok(_) => "acked",
            Err(PublishError::QueueFull) => "queue-full",
            Err(PublishError::TimedOut(_)) => "timed-out",
            Err(PublishError::Kafka(_)) => "kafka-error",
        };
        Answer {
            label: Cow::Borrowed(label),
            stored: label == "acked",
        }
    }
}
