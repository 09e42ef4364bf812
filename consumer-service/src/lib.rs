//! consumer-service: a Kafka consumer-group worker that processes orders at
//! least once, dead-letters records it can never process, and serves
//! `/livez`, `/readyz` and `/metrics` on its management listener.
//!
//! [`run`] binds and works until its shutdown future completes; [`serve`]
//! does the same on a listener the caller bound (tests use port 0).

mod backoff;
pub mod config;
mod context;
mod dead_letter;
mod group;
pub mod handler;
mod progress;
mod record;
pub mod replaced;
mod skips;
mod worker;

use std::future::Future;

use service_kit::Readiness;
use service_kit::management::{self, Management};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use handler::{LogOrder, Position, Process, ProcessError};

/// Binds `config.management_addr` and consumes until `shutdown` completes.
///
/// # Errors
/// Fails if the address cannot be bound or Kafka clients cannot be created.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = management::bind(config.management_addr).await?;
    serve(listener, config, shutdown).await
}

/// Consumes until `shutdown` completes, processing each order with
/// [`LogOrder`] and serving the management endpoints on `listener`; then
/// commits offsets and leaves the group.
///
/// # Errors
/// Fails if Kafka clients cannot be created or the management listener fails.
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
    describe_metrics();
    // The management listener outlives the consume loop, so that /readyz
    // answers 503 while the final commit runs.
    let management = Management::start(listener, readiness.clone())?;
    tracing::info!(brokers = %config.kafka.brokers, "consumer-service starting");

    let trigger = cancel.clone();
    let draining = readiness.clone();
    tokio::spawn(async move {
        shutdown.await;
        draining.set_draining();
        trigger.cancel();
    });

    let consumed = worker::consume(&config, processor, readiness, cancel).await;
    management.stop().await?;
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
    metrics::describe_counter!(
        "orders_skipped_offsets_total",
        "Offsets never processed because their records were deleted (retention, delete-records) before this consumer read them."
    );
    metrics::counter!("orders_skipped_offsets_total").increment(0);
    metrics::describe_gauge!(
        "kafka_consumer_stalled",
        "1 while records wait and none was handled for STALL_TIMEOUT_MS (/readyz answers 503)."
    );
}
