//! producer-service: an HTTP API that accepts orders and publishes them to
//! Kafka, answering `201 Created` only once the broker acknowledged the write.
//! Probes and metrics are on a management listener of their own.
//!
//! [`run`] binds and serves until its shutdown future completes; [`serve`]
//! does the same on listeners the caller bound (tests use port 0).

mod auth;
pub mod batch;
pub mod config;
mod error;
mod extract;
pub mod handler;
mod observe;
pub mod openapi;
mod outcome;
pub mod publisher;
pub mod routes;
mod server;
pub mod state;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use service_kit::management::{self, Management};
use tokio::net::TcpListener;

pub use config::Config;

/// The two listeners: the public API, and probes and metrics.
pub struct Listeners {
    /// `HTTP_ADDR`: the API.
    pub api: TcpListener,
    /// `MANAGEMENT_ADDR`: `/livez`, `/readyz`, `/metrics`.
    pub management: TcpListener,
}

impl Listeners {
    /// Binds `HTTP_ADDR` and `MANAGEMENT_ADDR`.
    ///
    /// # Errors
    /// If either address cannot be bound.
    pub async fn bind(config: &Config) -> anyhow::Result<Self> {
        let api = server::bind(config.http_addr)
            .with_context(|| format!("cannot listen on {} (HTTP_ADDR)", config.http_addr))?;
        let management = management::bind(config.management_addr).await?;
        Ok(Self { api, management })
    }
}

/// Binds the listeners and serves until `shutdown` completes.
///
/// # Errors
/// Fails if an address cannot be bound or the producer cannot be created.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&config).await?;
    serve(listeners, config, shutdown).await
}

/// Serves the API and the management endpoints until `shutdown` completes,
/// then stops accepting, lets in-flight requests finish, flushes the
/// producer, and stops the management listener last.
///
/// # Errors
/// Fails if the producer cannot be created or a listener fails.
pub async fn serve(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let publisher =
        Arc::new(publisher::Publisher::new(&config).context("cannot create the Kafka producer")?);
    describe_metrics();
    let readiness = publisher.readiness();
    let management = Management::start(listeners.management, readiness.clone())?;
    let watcher = publisher.watch_cluster();
    let api_tokens = auth::ApiTokens::new(config.api_tokens());
    if api_tokens.is_open() {
        tracing::warn!(
            "no API_TOKENS or API_TOKENS_FILE: POST /orders is open to anyone who can reach it"
        );
    } else {
        tracing::info!("POST /orders requires a bearer token");
    }
    let state = state::AppState {
        publisher: Arc::clone(&publisher),
        max_body_bytes: config.max_body_bytes,
        max_batch_body_bytes: config.max_batch_body_bytes,
        body_timeout: config.request_timeout(),
    };
    let edge = routes::Edge {
        api_tokens,
        max_in_flight_orders: config.max_in_flight_orders,
        max_in_flight_batches: config.max_in_flight_batches,
    };
    let app = routes::app(state, edge);

    let addr = listeners
        .api
        .local_addr()
        .context("listener has no address")?;
    tracing::info!(%addr, topic = %config.orders_topic, brokers = %config.kafka.brokers, "producer-service listening");
    let mut limits = config.listener_limits();
    limits.max_connections = server::fit_open_files(limits.max_connections);
    let draining = readiness.clone();
    service_kit::http::serve(listeners.api, app, limits, async move {
        shutdown.await;
        draining.set_draining();
        tracing::info!("draining in-flight requests");
    })
    .await;

    watcher.abort();
    match publisher.flush(config.flush_timeout()).await {
        Ok(()) => tracing::info!("producer flushed; bye"),
        Err(error) => tracing::error!(%error, "orders may be unacknowledged at exit"),
    }
    management.stop().await
}

/// HELP lines for this service's own metrics (the shared ones are in
/// [`service_kit::metrics`]).
fn describe_metrics() {
    service_kit::metrics::recorder();
    observe::describe();
    outcome::describe();
    metrics::describe_histogram!(
        "kafka_ack_duration_seconds",
        metrics::Unit::Seconds,
        "Time from handing an order to librdkafka to the broker's acknowledgement."
    );
}
