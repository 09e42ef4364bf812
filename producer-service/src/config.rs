//! Producer-service settings, read from flags or environment variables.
//! `producer-service --help` lists them with their defaults.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use service_kit::healthcheck::Command;
use service_kit::telemetry::LogArgs;
use service_kit::{KafkaArgs, Secret};

/// Most orders one `POST /orders/batch` may hold; a larger batch is refused
/// whole (422).
pub const MAX_BATCH_ORDERS: usize = 500;

/// Settings of producer-service.
#[derive(Debug, Clone, Parser)]
#[command(name = "producer-service", version, about)]
pub struct Config {
    /// Instead of serving, probe the instance running with these settings.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Kafka connection.
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// Address the public HTTP API listens on (`POST /orders`,
    /// `POST /orders/batch`, `GET /openapi.json`).
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// Address of the management listener: `/livez`, `/readyz` and
    /// `/metrics`, apart from the public API so that no client traffic can
    /// delay a probe. Keep it reachable by probes and scrapers only.
    #[arg(long, env = "MANAGEMENT_ADDR", default_value = "0.0.0.0:9080")]
    pub management_addr: SocketAddr,

    /// Most connections open at once on the public listener; further
    /// clients wait in the kernel's accept queue until one closes. With
    /// `MAX_HEADER_BYTES`, `MAX_IN_FLIGHT_ORDERS` and `MAX_BODY_BYTES` it
    /// bounds the service's memory (docs/security.md has the sum). The
    /// open-file limit is raised to fit it where the hard limit allows
    /// (else this is lowered, with a warning).
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 2048)]
    pub max_connections: usize,

    /// Longest a client may take to send a request's headers, counted from
    /// when the connection waits for them: a connection that sends its
    /// headers slower (slowloris), or stays idle between requests longer, is
    /// closed. Behind a load balancer that keeps idle connections open
    /// longer than this (AWS ALB: 60 s), set it above the balancer's idle
    /// timeout, or the balancer may send a request on a connection that is
    /// being closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,

    /// Largest request head (request line and headers), in bytes; a larger
    /// one is answered 431. It is also the most the server buffers for one
    /// connection, pipelined requests included, so `MAX_CONNECTIONS` times
    /// it bounds what clients can make the service hold. At least 8192.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 16 * 1024,
          value_parser = clap::value_parser!(u64).range(8192..))]
    pub max_header_bytes: u64,

    /// Longest an answer may wait for the client to read it: a client that
    /// sends requests and never reads the answers is cut off after this.
    #[arg(long, env = "WRITE_TIMEOUT_MS", default_value_t = 10_000)]
    pub write_timeout_ms: u64,

    /// Topic accepted orders are published to.
    #[arg(long, env = "ORDERS_TOPIC", default_value = order_contract::DEFAULT_ORDERS_TOPIC)]
    pub orders_topic: String,

    /// How long librdkafka may try to deliver one order (queueing, retries and
    /// acknowledgement) before the request is answered 503. Bounds how long a
    /// client waits when Kafka is down.
    #[arg(long, env = "DELIVERY_TIMEOUT_MS", default_value_t = 10_000)]
    pub delivery_timeout_ms: u64,

    /// Most `POST /orders` requests handled at once, from the first byte of
    /// the body to the broker's acknowledgement. Beyond it a request is
    /// answered 503 at once, before its body is read, so memory stays
    /// bounded (at most this many bodies of `MAX_BODY_BYTES`; librdkafka's
    /// queue holds twice this plus twice 500 per batch in flight) however
    /// many clients upload, and when the broker is slow or gone.
    #[arg(long, env = "MAX_IN_FLIGHT_ORDERS", default_value_t = 1024)]
    pub max_in_flight_orders: usize,

    /// Largest accepted request body, in bytes; larger bodies get 413. The
    /// largest valid order (100 items, every field at its longest) is
    /// about 12 KiB as compact JSON.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 16 * 1024)]
    pub max_body_bytes: usize,

    /// Most `POST /orders/batch` requests handled at once (each up to 500
    /// orders), counted apart from `MAX_IN_FLIGHT_ORDERS`; beyond it a
    /// batch is answered 503 before its body is read.
    #[arg(long, env = "MAX_IN_FLIGHT_BATCHES", default_value_t = 16)]
    pub max_in_flight_batches: usize,

    /// Largest accepted `POST /orders/batch` body, in bytes; larger bodies
    /// get 413 and nothing of them is published. 500 typical orders take
    /// about 100 KiB.
    #[arg(long, env = "MAX_BATCH_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_batch_body_bytes: usize,

    /// Longest a client may take to send the request body; a slower upload
    /// is answered 408 and nothing is published. Only the upload is timed:
    /// the wait for the broker is bounded by `DELIVERY_TIMEOUT_MS`, so a
    /// 408 never hides an order that was stored.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = 15_000)]
    pub request_timeout_ms: u64,

    /// Bearer tokens accepted on `POST /orders`, comma-separated. With none
    /// here or in `API_TOKENS_FILE`, the API is open to anyone who can reach
    /// it. `/openapi.json` and the management listener stay open.
    #[arg(
        long,
        env = "API_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_tokens: Vec<Secret>,

    /// File of bearer tokens, one per line (blank lines and `#` comments
    /// ignored), e.g. a Docker or Kubernetes secret. Adds to `API_TOKENS`.
    #[arg(long, env = "API_TOKENS_FILE", value_name = "PATH", value_parser = TokenFile::read)]
    pub api_tokens_file: Option<TokenFile>,

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

    /// See [`Config::request_timeout_ms`].
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Every accepted API token, from `API_TOKENS` and `API_TOKENS_FILE`.
    pub fn api_tokens(&self) -> impl Iterator<Item = &Secret> {
        let from_file = self.api_tokens_file.iter().flat_map(|file| &file.0);
        self.api_tokens.iter().chain(from_file)
    }

    /// See [`Config::header_read_timeout_ms`].
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    /// What the public listener allows: `MAX_CONNECTIONS`, the header and
    /// write timeouts, `MAX_HEADER_BYTES`, and a drain at shutdown as long
    /// as the slowest request may take (an upload, then an
    /// acknowledgement and its one-second guard).
    pub fn listener_limits(&self) -> service_kit::http::Limits {
        let slowest_request =
            self.request_timeout() + self.delivery_timeout() + Duration::from_secs(1);
        service_kit::http::Limits {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout(),
            max_header_bytes: usize::try_from(self.max_header_bytes).unwrap_or(usize::MAX),
            write_timeout: Duration::from_millis(self.write_timeout_ms),
            drain_timeout: slowest_request.max(self.header_read_timeout()),
        }
    }

    /// See [`Config::flush_timeout_ms`].
    pub fn flush_timeout(&self) -> Duration {
        Duration::from_millis(self.flush_timeout_ms)
    }
}

/// The tokens in an `API_TOKENS_FILE`.
#[derive(Debug, Clone)]
pub struct TokenFile(pub Vec<Secret>);

impl TokenFile {
    /// Reads one token per line, skipping blank lines and `#` comments.
    ///
    /// # Errors
    /// If the file cannot be read; the message names the path only.
    pub fn read(path: &str) -> Result<Self, String> {
        let content = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {path}: {error}"))?;
        let tokens = content
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| line.parse().unwrap_or_else(|never| match never {}))
            .collect();
        Ok(Self(tokens))
    }
}
