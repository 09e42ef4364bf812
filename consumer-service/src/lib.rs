//! consumer-service: a Kafka consumer-group worker that processes orders at
//! least once, dead-letters records it can never process, and serves
//! `/livez`, `/readyz` and `/metrics` on a small HTTP listener.
//!
//! [`run`] binds and works until its shutdown future completes; [`serve`]
//! does the same on a listener the caller bound (tests use port 0).

mod backoff;
pub mod config;
mod context;
mod dead_letter;
pub mod handler;
mod worker;

use std::future::Future;

use anyhow::Context;
use service_kit::Readiness;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use handler::{LogOrder, Position, Process, ProcessError};

/// Binds `config.http_addr` and consumes until `shutdown` completes.
///
/// # Errors
/// Fails if the address cannot be bound or Kafka clients cannot be created.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.http_addr))?;
    serve(listener, config, shutdown).await
}

/// Consumes until `shutdown` completes, processing each order with
/// [`LogOrder`] and serving health checks on `listener`; then commits offsets
/// and leaves the group.
///
/// # Errors
/// Fails if Kafka clients cannot be created or the health server fails.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(listener, config, LogOrder, shutdown).await
}

/// [`serve`] with another business step than [`LogOrder`].
///
/// # Errors
/// As [`serve`].
pub async fn serve_with(
    listener: TcpListener,
    config: Config,
    processor: impl Process,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let readiness = Readiness::default();
    let cancel = CancellationToken::new();
    let addr = listener.local_addr().context("listener has no address")?;
    tracing::info!(%addr, brokers = %config.kafka.brokers, "consumer-service health listener up");

    // The health listener outlives the consume loop, so that /readyz
    // answers 503 while the final commit runs.
    let health_stop = CancellationToken::new();
    describe_metrics();
    let routes =
        service_kit::health::routes(readiness.clone()).merge(service_kit::metrics::routes());
    let health =
        axum::serve(listener, routes).with_graceful_shutdown(health_stop.clone().cancelled_owned());
    let health = tokio::spawn(async move { health.await });

    let trigger = cancel.clone();
    let draining = readiness.clone();
    tokio::spawn(async move {
        shutdown.await;
        draining.set_draining();
        trigger.cancel();
    });

    let consumed = worker::consume(&config, processor, readiness, cancel).await;
    health_stop.cancel();
    health
        .await
        .context("health server task failed")?
        .context("health server failed")?;
    consumed?;
    tracing::info!("consumer-service stopped; bye");
    Ok(())
}

/// HELP lines for this service's own metrics (the shared ones are in
/// [`service_kit::metrics`]).
fn describe_metrics() {
    service_kit::metrics::recorder();
    metrics::describe_counter!(
        "orders_processed_total",
        "Records handled: ok (processed), dead_lettered (poison, written to the dead-letter topic) and retried (one failed attempt, tried again)."
    );
    metrics::describe_histogram!(
        "order_processing_duration_seconds",
        metrics::Unit::Seconds,
        "Time to handle one record, retries and dead-lettering included."
    );
    metrics::describe_counter!(
        "kafka_consumer_rebalances_total",
        "Partition assignments and revocations this instance went through."
    );
    metrics::describe_gauge!(
        "kafka_consumer_assigned_partitions",
        "Partitions currently assigned to this instance."
    );
}
