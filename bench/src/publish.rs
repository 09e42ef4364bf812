//! Publishing side by side on one broker: raw Kafka, the producer floor,
//! producer-service and the Strimzi Kafka Bridge in a closed loop at each
//! connection count, then the HTTP servers in an open loop at one rate, then
//! in batches.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use loadgen::http::HttpTarget;
use loadgen::raw::RawTarget;
use loadgen::run::{self, Mode, Outcome, Target, Until};
use loadgen::stats::Summary;
use test_support::free_port;
use test_support::kafka::Broker;

use crate::batch::{self, BatchTarget};
use crate::bridge::{self, BridgeTarget};
use crate::cpu::Processes;
use crate::figures::{BatchRuns, ConnectionsRun, Figures, Latency, PublishRun, Settings};
use crate::service::Service;
use crate::{floor, start_producer, wait_ready};

/// Connection counts at which raw publishing and the floor run too, for the
/// ratios.
const RAW_CONNECTIONS: [usize; 2] = [64, 256];

/// Runs every publish measurement and records it in `figures`. Each HTTP
/// server runs alone: producer-service idles while the bridge is measured,
/// and the bridge's JVM is not started until then, so that neither takes
/// the other's cores.
pub async fn side_by_side(
    broker: &Broker,
    settings: &Settings,
    dir: &Path,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let brokers = &broker.bootstrap;
    let on = |service: u32| Processes {
        load: std::process::id(),
        service,
        broker: broker.pid(),
    };
    let raw = Arc::new(RawTarget::new(brokers, "orders")?);
    let (producer, addr) = start_producer(brokers, &[], &dir.join("producer-service.log")).await?;
    let ours = Arc::new(HttpTarget::new(&format!("http://{addr}"))?);
    let ours_pids = on(producer.pid());
    let (floor, floor_addr) =
        floor::start_producer(brokers, &dir.join("floor-producer.log")).await?;
    let floor_target = Arc::new(HttpTarget::new(&format!("http://{floor_addr}"))?);
    let floor_pids = on(floor.pid());
    let warm_up = Duration::from_secs(settings.seconds.min(3));
    let elapsed = Duration::from_secs(settings.seconds);

    eprintln!("raw Kafka and producer-service, closed loop");
    closed(&raw, 64, warm_up).await;
    let mut runs = Vec::new();
    for &connections in &settings.connections {
        eprintln!("publishing, {connections} connections: raw Kafka, producer-service");
        // Unmeasured: every connection opened first.
        closed(&ours, connections, warm_up).await;
        let (raw, floor) = if RAW_CONNECTIONS.contains(&connections) {
            closed(&floor_target, connections, warm_up).await;
            (
                Some(publish(&raw, connections, elapsed, ours_pids).await?),
                Some(publish(&floor_target, connections, elapsed, floor_pids).await?),
            )
        } else {
            (None, None)
        };
        let ours = publish(&ours, connections, elapsed, ours_pids).await?;
        runs.push((connections, raw, floor, ours));
        if connections <= 256 {
            figures.producer_rss_to_256_kib = producer.peak_rss_kib()?;
        }
    }
    let (batch_connections, size) = (settings.batch_connections, settings.batch_size);
    eprintln!("batches of {size}, {batch_connections} connections: producer-service");
    let ours_batch = BatchTarget::Ours(format!("http://{addr}/orders/batch"));
    let ours_batches = batches(&ours_batch, batch_connections, size, elapsed, ours_pids).await?;

    let mut bridge_runs = Vec::new();
    let mut bridge_batches = None;
    let mut bridge_latency = None;
    let ours_best = runs.iter().map(|(.., run)| run.rate).fold(0.0, f64::max);
    // The same arrival rate for both: half the best of the slower one.
    let mut rate = (ours_best / 2.0).max(1.0);
    if settings.bridge {
        let bridge = Bridge::start(brokers, dir, on).await?;
        eprintln!("the bridge, closed loop (its JIT warmed up twice as long)");
        closed(&bridge.target, 64, 2 * warm_up).await;
        for &connections in &settings.connections {
            eprintln!("publishing, {connections} connections: the bridge");
            // Unmeasured: every connection opened first, and with it the
            // bridge's producer for that connection (it makes one each).
            closed(&bridge.target, connections, warm_up).await;
            bridge_runs.push(publish(&bridge.target, connections, elapsed, bridge.pids).await?);
        }
        let bridge_best = bridge_runs.iter().map(|run| run.rate).fold(0.0, f64::max);
        rate = (ours_best.min(bridge_best) / 2.0).max(1.0);
        eprintln!("latency: the bridge at {rate:.0}/s, open loop");
        bridge_latency = Some(open(&bridge.target, rate, elapsed).await);
        eprintln!("batches of {size}, {batch_connections} connections: the bridge");
        let target = BatchTarget::Bridge(format!("{}/topics/orders", bridge.url));
        bridge_batches =
            Some(batches(&target, batch_connections, size, elapsed, bridge.pids).await?);
        figures.bridge_rss_kib = Some(bridge.server.peak_rss_kib()?);
        bridge.server.stop().context("the bridge")?;
    } else {
        eprintln!("without the Strimzi Kafka Bridge (--no-bridge)");
    }
    eprintln!("latency: producer-service at {rate:.0}/s, open loop");
    let ours_latency = open(&ours, rate, elapsed).await;
    eprintln!("latency: the producer floor at {rate:.0}/s, open loop");
    figures.latency = Some(Latency {
        rate,
        ours: ours_latency,
        floor: Some(open(&floor_target, rate, elapsed).await),
        bridge: bridge_latency,
    });
    floor.stop().context("the producer floor")?;

    let mut bridge_runs = bridge_runs.into_iter();
    for (connections, raw, floor, ours) in runs {
        figures.connections.push(ConnectionsRun {
            connections,
            raw,
            floor,
            ours,
            bridge: bridge_runs.next(),
        });
    }
    figures.batch = Some(BatchRuns {
        connections: batch_connections,
        size,
        ours: ours_batches,
        bridge: bridge_batches,
    });
    figures.producer_rss_kib = producer.peak_rss_kib()?;
    producer.stop().context("producer-service")
}

/// The running bridge and a client for it.
struct Bridge {
    server: Service,
    target: Arc<BridgeTarget>,
    url: String,
    pids: Processes,
}

impl Bridge {
    async fn start(
        brokers: &str,
        dir: &Path,
        on: impl Fn(u32) -> Processes,
    ) -> anyhow::Result<Self> {
        let port = free_port();
        let server = bridge::start(brokers, port, dir.join("bridge.log"))?;
        let url = format!("http://127.0.0.1:{port}");
        wait_ready(&format!("{url}/ready"), "the Strimzi Kafka Bridge").await?;
        Ok(Self {
            target: Arc::new(BridgeTarget::new(&url, "orders")?),
            pids: on(server.pid()),
            server,
            url,
        })
    }
}

/// An open-loop run at `rate`: its latency summary and the orders skipped.
async fn open<T: Target>(target: &Arc<T>, rate: f64, duration: Duration) -> (Summary, u64) {
    let outcome = run::run(
        Arc::clone(target),
        Mode::Open {
            rate,
            max_outstanding: 10_000,
        },
        Until::Elapsed(duration),
        true,
        None,
    )
    .await;
    (outcome.summary, outcome.skipped)
}

async fn closed<T: Target>(target: &Arc<T>, concurrency: usize, duration: Duration) -> Outcome {
    run::run(
        Arc::clone(target),
        Mode::Closed { concurrency },
        Until::Elapsed(duration),
        true,
        None,
    )
    .await
}

/// A closed-loop publish run, with the CPU each process spent on it.
async fn publish<T: Target>(
    target: &Arc<T>,
    concurrency: usize,
    duration: Duration,
    processes: Processes,
) -> anyhow::Result<PublishRun> {
    let before = processes.snapshot()?;
    let outcome = closed(target, concurrency, duration).await;
    Ok(PublishRun {
        rate: outcome.summary.ok_rate(),
        orders: outcome.summary.stored,
        cpu: before.since(processes)?,
        p99: Some(outcome.summary.p99),
    })
}

/// A closed-loop batch run, with the CPU each process spent on it.
async fn batches(
    target: &BatchTarget,
    connections: usize,
    size: usize,
    duration: Duration,
    processes: Processes,
) -> anyhow::Result<PublishRun> {
    let before = processes.snapshot()?;
    let (stored, took) = batch::closed(target, connections, size, duration).await;
    Ok(PublishRun {
        rate: loadgen::stats::rate(stored, took),
        orders: stored,
        cpu: before.since(processes)?,
        p99: None,
    })
}
