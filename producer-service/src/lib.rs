//! producer-service: an HTTP API that accepts orders and publishes them to
//! Kafka, answering `201 Created` only once the broker acknowledged the write.
//!
//! [`run`] binds and serves until its shutdown future completes; [`serve`]
//! does the same on a listener the caller bound (tests use port 0).

mod auth;
pub mod batch;
pub mod config;
mod correlation;
mod error;
mod extract;
pub mod handler;
pub mod openapi;
pub mod publisher;
pub mod routes;
pub mod state;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use service_kit::Readiness;
use tokio::net::TcpListener;

pub use config::Config;

/// Binds `config.http_addr` and serves until `shutdown` completes.
///
/// # Errors
/// Fails if the address cannot be bound or the producer cannot be created.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.http_addr))?;
    serve(listener, config, shutdown).await
}

/// Serves the API on `listener` until `shutdown` completes, then stops
/// accepting, lets in-flight requests finish, and flushes the producer.
///
/// # Errors
/// Fails if the producer cannot be created or the server fails.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let publisher =
        Arc::new(publisher::Publisher::new(&config).context("cannot create the Kafka producer")?);
    describe_metrics();
    let readiness = Readiness::default();
    let watcher = publisher.watch_cluster(readiness.clone());
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
    let app = routes::app(state, edge, readiness.clone());

    let addr = listener.local_addr().context("listener has no address")?;
    tracing::info!(%addr, topic = %config.orders_topic, brokers = %config.kafka.brokers, "producer-service listening");
    let draining = readiness.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            draining.set_draining();
            tracing::info!("draining in-flight requests");
        })
        .await
        .context("HTTP server failed")?;

    watcher.abort();
    match publisher.flush(config.flush_timeout()).await {
        Ok(()) => tracing::info!("producer flushed; bye"),
        Err(error) => tracing::error!(%error, "orders may be unacknowledged at exit"),
    }
    Ok(())
}

/// HELP lines for this service's own metrics (the shared ones are in
/// [`service_kit::metrics`]).
fn describe_metrics() {
    service_kit::metrics::recorder();
    metrics::describe_counter!(
        "orders_published_total",
        "Orders by outcome, each POST /orders and each order of a POST /orders/batch: acked (201, stored), rejected (refused before it reached Kafka: bad input, no token, shed) and failed (Kafka did not acknowledge; may or may not be stored). A batch refused whole is not counted here."
    );
    metrics::describe_histogram!(
        "kafka_ack_duration_seconds",
        metrics::Unit::Seconds,
        "Time from handing an order to librdkafka to the broker's acknowledgement."
    );
}
