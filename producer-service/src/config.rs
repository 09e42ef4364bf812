//! Producer-service settings, read from flags or environment variables.
//! `producer-service --help` lists them with their defaults.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use service_kit::KafkaArgs;
use service_kit::telemetry::LogArgs;

/// Settings of producer-service.
#[derive(Debug, Clone, Parser)]
#[command(name = "producer-service", version, about)]
pub struct Config {
    /// Kafka connection.
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// Address the HTTP API listens on.
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// Topic accepted orders are published to.
    #[arg(long, env = "ORDERS_TOPIC", default_value = order_contract::DEFAULT_ORDERS_TOPIC)]
    pub orders_topic: String,

    /// How long librdkafka may try to deliver one order (queueing, retries and
    /// acknowledgement) before the request is answered 503. Bounds how long a
    /// client waits when Kafka is down.
    #[arg(long, env = "DELIVERY_TIMEOUT_MS", default_value_t = 10_000)]
    pub delivery_timeout_ms: u64,

    /// Most orders waiting for a broker acknowledgement at once; beyond it
    /// requests are answered 503 at once, so memory stays bounded when the
    /// broker is slow or gone.
    #[arg(long, env = "MAX_IN_FLIGHT_ORDERS", default_value_t = 4096)]
    pub max_in_flight_orders: usize,

    /// Largest accepted request body, in bytes; larger bodies get 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// How long shutdown waits for queued orders to be acknowledged.
    #[arg(long, env = "FLUSH_TIMEOUT_MS", default_value_t = 10_000)]
    pub flush_timeout_ms: u64,

    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

impl Config {
    /// See [`Config::delivery_timeout_ms`].
    pub fn delivery_timeout(&self) -> Duration {
        Duration::from_millis(self.delivery_timeout_ms)
    }

    /// See [`Config::flush_timeout_ms`].
    pub fn flush_timeout(&self) -> Duration {
        Duration::from_millis(self.flush_timeout_ms)
    }
}
