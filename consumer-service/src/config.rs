//! Consumer-service settings, read from flags or environment variables.
//! `consumer-service --help` lists them with their defaults.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use service_kit::KafkaArgs;
use service_kit::healthcheck::Command;
use service_kit::telemetry::LogArgs;

/// Settings of consumer-service.
#[derive(Debug, Clone, Parser)]
#[command(name = "consumer-service", version, about)]
pub struct Config {
    /// Instead of serving, probe the instance running with these settings.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Kafka connection.
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// Address of the management listener (`/livez`, `/readyz`,
    /// `/metrics`), the service's only listener. A second instance on the
    /// same host needs another port (`127.0.0.1:0` picks a free one).
    #[arg(long, env = "MANAGEMENT_ADDR", default_value = "0.0.0.0:9081")]
    pub management_addr: SocketAddr,

    /// Topic orders are consumed from.
    #[arg(long, env = "ORDERS_TOPIC", default_value = order_contract::DEFAULT_ORDERS_TOPIC)]
    pub orders_topic: String,

    /// Topic unprocessable records are republished to.
    #[arg(long, env = "DLQ_TOPIC", default_value = order_contract::DEFAULT_DLQ_TOPIC)]
    pub dlq_topic: String,

    /// Consumer group: instances with the same group share the partitions.
    #[arg(long, env = "CONSUMER_GROUP", default_value = "orders-consumer")]
    pub consumer_group: String,

    /// Where a group with no committed offset starts reading.
    #[arg(long, env = "AUTO_OFFSET_RESET", value_enum, default_value_t = OffsetReset::Earliest)]
    pub auto_offset_reset: OffsetReset,

    /// How often stored offsets are committed, in milliseconds. A crash
    /// reprocesses at most this much work.
    #[arg(long, env = "COMMIT_INTERVAL_MS", default_value_t = 5_000)]
    pub commit_interval_ms: u64,

    /// How many times the business step is tried for one order before the
    /// record is dead-lettered (with capped exponential backoff in between).
    #[arg(long, env = "PROCESS_ATTEMPTS", default_value_t = 5)]
    pub process_attempts: u32,

    /// How long a dead-letter write may take before it is retried.
    #[arg(long, env = "DELIVERY_TIMEOUT_MS", default_value_t = 10_000)]
    pub delivery_timeout_ms: u64,

    /// How long shutdown waits for the final offset commit and for leaving
    /// the group. librdkafka alone may wait for a group coordinator for a
    /// whole session timeout and then for the commit's answer; past this
    /// bound the process exits anyway, and the partitions' next owner
    /// reprocesses at most one commit interval.
    #[arg(long, env = "FINAL_COMMIT_TIMEOUT_MS", default_value_t = 10_000)]
    pub final_commit_timeout_ms: u64,

    /// How long records may wait in this instance's partitions with none
    /// of them handled before it reports itself stalled: `/readyz` 503,
    /// `kafka_consumer_stalled` 1, one ERROR line. A few times the longest
    /// one record may take (its attempts, their backoff and a dead-letter
    /// write: about 15 s at the defaults).
    #[arg(long, env = "STALL_TIMEOUT_MS", default_value_t = 60_000)]
    pub stall_timeout_ms: u64,

    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

impl Config {
    /// See [`Config::stall_timeout_ms`].
    pub fn stall_timeout(&self) -> Duration {
        Duration::from_millis(self.stall_timeout_ms)
    }

    /// See [`Config::final_commit_timeout_ms`].
    pub fn final_commit_timeout(&self) -> Duration {
        Duration::from_millis(self.final_commit_timeout_ms)
    }
}

/// Starting point for a group without committed offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OffsetReset {
    /// Read the partition from its beginning: nothing already stored is skipped.
    Earliest,
    /// Read only records written after the consumer joined.
    Latest,
}

impl OffsetReset {
    /// The librdkafka value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earliest => "earliest",
            Self::Latest => "latest",
        }
    }
}
