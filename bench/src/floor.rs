//! The floors beside each service: the least code that does the same job
//! with the same guarantees (`src/bin/floor-producer.rs`,
//! `src/bin/floor-consumer.rs`). A service is judged against its floor, not
//! against a raw client, which does no HTTP at all: the ratios here are the
//! goals `docs/performance.md` explains.

use std::path::Path;

use anyhow::Context;
use loadgen::stats::ms;

use crate::figures::Figures;
use crate::service::Service;
use crate::{release_binary, wait_ready};

/// Starts the producer floor on `brokers` and a free port and waits until it
/// answers; returns it with its address.
pub async fn start_producer(brokers: &str, log: &Path) -> anyhow::Result<(Service, String)> {
    let addr = format!("127.0.0.1:{}", test_support::free_port());
    let floor = Service::start(
        &release_binary("PRODUCER_FLOOR_BIN", "floor-producer"),
        &[("KAFKA_BROKERS", brokers), ("HTTP_ADDR", &addr)],
        log.to_owned(),
    )?;
    wait_ready(&format!("http://{addr}/readyz"), "the producer floor").await?;
    Ok((floor, addr))
}

/// The consumer floor's drain rate of `count` orders of `topic`, in a group
/// of its own, measured as consumer-service's is.
pub async fn consumer_rate(
    brokers: &str,
    topic: &str,
    count: u64,
    log: &Path,
) -> anyhow::Result<f64> {
    let floor = Service::start(
        &release_binary("CONSUMER_FLOOR_BIN", "floor-consumer"),
        &[
            ("KAFKA_BROKERS", brokers),
            ("ORDERS_TOPIC", topic),
            ("CONSUMER_GROUP", "bench-floor"),
        ],
        log.to_owned(),
    )?;
    let rate = crate::consume::processed_rate(std::slice::from_ref(&floor), count).await?;
    floor.stop().context("the consumer floor")?;
    Ok(rate)
}

/// The goals against the floors: each as `(goal, measured, target, met)`.
pub fn goals(figures: &Figures) -> Vec<(String, String, &'static str, bool)> {
    let ratio = |ours: f64, floor: f64| ours / floor.max(f64::MIN_POSITIVE);
    let mut rows = Vec::new();
    if let Some(run) = figures.at(256)
        && let Some(floor) = &run.floor
    {
        let [_, ours, ..] = run.ours.cpu.micros_per_order(run.ours.orders);
        let [_, theirs, ..] = floor.cpu.micros_per_order(floor.orders);
        let r = ratio(ours, theirs);
        rows.push((
            "CPU per order, producer-service vs its floor, 256 connections".to_owned(),
            format!("{r:.2}× ({ours:.0} against {theirs:.0} µs)"),
            "≤ 1.25×",
            r <= 1.25,
        ));
        let r = ratio(run.ours.rate, floor.rate);
        rows.push((
            "throughput, producer-service vs its floor, 256 connections".to_owned(),
            format!("{r:.2}"),
            "≥ 0.85",
            r >= 0.85,
        ));
    }
    if let Some(latency) = &figures.latency
        && let Some((floor, _)) = &latency.floor
    {
        let ours = latency.ours.0.p99;
        let r = ratio(ours.as_secs_f64(), floor.p99.as_secs_f64());
        rows.push((
            "p99, producer-service vs its floor, same open-loop rate".to_owned(),
            format!("{r:.2} ({} against {} ms)", ms(ours), ms(floor.p99)),
            "≤ 1.2",
            r <= 1.2,
        ));
    }
    if let (Some((_, service)), Some(floor)) = (figures.consume, figures.consume_floor) {
        let r = ratio(service, floor);
        rows.push((
            "drain rate, consumer-service vs its floor".to_owned(),
            format!(
                "{r:.2} ({} of {} orders/s)",
                crate::units::thousands(service),
                crate::units::thousands(floor)
            ),
            "≥ 0.80",
            r >= 0.8,
        ));
    }
    rows
}
