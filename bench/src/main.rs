//! The benchmark: on Apache Kafka, in one run, producer-service next to the
//! Strimzi Kafka Bridge (the HTTP front users would pick instead) and next
//! to raw Kafka publishing, then how cost grows with connections, idle
//! connections and consumer instances. Prints the tables and, with `--out`,
//! writes them with the machine and the commands to a Markdown file and the
//! chart data next to it. `scripts/bench.sh` builds everything, runs it and
//! draws the charts.

mod batch;
mod bridge;
mod charts;
mod consume;
mod cpu;
mod document;
mod figures;
mod floor;
mod growth;
mod profile;
mod publish;
mod report;
mod service;
mod units;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use figures::{Figures, Settings};
use loadgen::raw::RawTarget;
use loadgen::run::{self, Mode, Until};
use service::Service;
use test_support::kafka::{Broker, ORDERS_PARTITIONS};
use test_support::{binary, free_port};

/// Side-by-side benchmark of the services, the Strimzi Kafka Bridge and raw
/// Kafka clients.
#[derive(Parser)]
#[command(name = "bench", about)]
struct Args {
    /// Seconds each throughput and latency run lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Orders prefilled for the consumer runs.
    #[arg(long, default_value_t = 200_000)]
    drain_count: u64,
    /// A run of seconds, not minutes, to prove the benchmark still works.
    #[arg(long)]
    smoke: bool,
    /// Write the tables, the machine and the commands to this Markdown file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Leave the Strimzi Kafka Bridge out (where it cannot be fetched): its
    /// columns and goals say "not measured".
    #[arg(long)]
    no_bridge: bool,
    /// Write the chart data (CSV) to this directory.
    #[arg(long)]
    chart_data: Option<PathBuf>,
    /// Instead of the benchmark, run one service's load alone and print its
    /// rate and CPU per order (a quick measurement of a change), under
    /// `perf record` with `--perf-data` (`scripts/profile.sh` draws the
    /// flame graph; perf's own cost inflates the figures then).
    #[arg(long, value_enum)]
    profile: Option<profile::Profiled>,
    /// Where `--profile` has perf write its data.
    #[arg(long)]
    perf_data: Option<PathBuf>,
}

/// The topic the consumer runs drain.
const DRAIN_TOPIC: &str = "bench-drain";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut settings = if args.smoke {
        Settings::smoke()
    } else {
        Settings::full(args.seconds, args.drain_count)
    };
    settings.bridge = !args.no_bridge;
    if let Some(which) = args.profile {
        let dir = std::env::temp_dir().join(format!("orders-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let profiled = profile::run(which, &settings, &dir, args.perf_data.as_deref()).await;
        let _ = std::fs::remove_dir_all(&dir);
        return profiled;
    }
    let figures = measure(&settings).await?;
    let tables = report::tables(&figures, &settings);
    println!("{tables}");
    if let Some(out) = args.out {
        std::fs::write(&out, document::markdown(&tables, &settings))
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("written to {}", out.display());
    }
    if let Some(dir) = args.chart_data {
        charts::write(&dir, &figures)?;
        println!("chart data in {}", dir.display());
    }
    Ok(())
}

async fn measure(settings: &Settings) -> anyhow::Result<Figures> {
    let dir = std::env::temp_dir().join(format!("orders-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let broker = tokio::task::spawn_blocking(|| {
        let broker = Broker::start();
        broker.create_topic(DRAIN_TOPIC, ORDERS_PARTITIONS);
        broker
    })
    .await?;
    let mut figures = Figures::default();
    publish::side_by_side(&broker, settings, &dir, &mut figures).await?;

    eprintln!("idle keep-alive connections: producer-service's memory");
    // Room for every connection, and none closed for being idle.
    let most = settings.idle_connections.iter().max().copied().unwrap_or(0) + 100;
    let producer = start_producer(
        &broker.bootstrap,
        &[
            ("MAX_CONNECTIONS", &most.to_string()),
            ("HEADER_READ_TIMEOUT_MS", "3600000"),
        ],
        &dir.join("producer-idle.log"),
    )
    .await?;
    figures.idle_rss =
        growth::idle_connections_rss(&producer.0, &producer.1, &settings.idle_connections).await?;
    producer.0.stop().context("producer-service")?;

    consume_single(&broker.bootstrap, settings, &dir, &mut figures).await?;
    drop(broker);
    consume_scaling(settings, &dir, &mut figures).await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(figures)
}

/// A plain consumer, one consumer-service and the consumer floor, one after
/// another on the single broker.
async fn consume_single(
    brokers: &str,
    settings: &Settings,
    dir: &Path,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    eprintln!(
        "consuming: {} prefilled orders, plain consumer, then consumer-service",
        settings.drain_count
    );
    prefill(brokers, settings.drain_count).await?;
    let (drain_brokers, count) = (brokers.to_owned(), settings.drain_count);
    let drained = tokio::task::spawn_blocking(move || {
        loadgen::drain::drain(&drain_brokers, DRAIN_TOPIC, count, Duration::from_secs(300))
    })
    .await??;
    let consumer = Service::start(
        &release_binary("CONSUMER_BIN", "consumer-service"),
        &[
            ("KAFKA_BROKERS", brokers),
            ("MANAGEMENT_ADDR", "127.0.0.1:0"),
            ("ORDERS_TOPIC", DRAIN_TOPIC),
            ("CONSUMER_GROUP", "bench"),
        ],
        dir.join("consumer-service.log"),
    )?;
    let processed = consume::processed_rate(std::slice::from_ref(&consumer), count).await?;
    figures.consume = Some((drained.rate(), processed));
    figures.consumer_rss_kib = consumer.peak_rss_kib()?;
    consumer.stop().context("consumer-service")?;
    eprintln!("consuming: the same orders, the consumer floor");
    let log = dir.join("floor-consumer.log");
    figures.consume_floor = Some(floor::consumer_rate(brokers, DRAIN_TOPIC, count, &log).await?);
    Ok(())
}

/// 1, 2 and 3 consumer-services in one group on a three-node cluster.
async fn consume_scaling(
    settings: &Settings,
    dir: &Path,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    eprintln!("consumer instances: 1, 2 and 3 in one group, on a three-node cluster");
    let cluster = tokio::task::spawn_blocking(|| {
        let cluster = Broker::cluster(3);
        cluster.create_topic(DRAIN_TOPIC, ORDERS_PARTITIONS);
        cluster
    })
    .await?;
    prefill(&cluster.bootstrap, settings.scaling_count).await?;
    let binary = release_binary("CONSUMER_BIN", "consumer-service");
    for instances in 1..=3 {
        let rate = consume::drain(
            &binary,
            &cluster.bootstrap,
            DRAIN_TOPIC,
            instances,
            settings.scaling_count,
            dir,
        )
        .await?;
        figures.scaling.push((instances, rate));
    }
    Ok(())
}

async fn prefill(brokers: &str, count: u64) -> anyhow::Result<()> {
    let fill = run::run(
        Arc::new(RawTarget::new(brokers, DRAIN_TOPIC)?),
        Mode::Closed { concurrency: 1024 },
        Until::Count(count),
        true,
        None,
    )
    .await;
    if fill.summary.stored != count {
        bail!(
            "prefilling {DRAIN_TOPIC} failed: {:?}",
            fill.summary.answers
        );
    }
    Ok(())
}

/// Starts producer-service against `brokers` on free ports, with `env`
/// added, and waits until it is ready; returns it with its API's address.
async fn start_producer(
    brokers: &str,
    env: &[(&str, &str)],
    log: &Path,
) -> anyhow::Result<(Service, String)> {
    let addr = format!("127.0.0.1:{}", free_port());
    let management = format!("127.0.0.1:{}", free_port());
    let mut all = vec![
        ("KAFKA_BROKERS", brokers),
        ("HTTP_ADDR", &addr),
        ("MANAGEMENT_ADDR", &management),
    ];
    all.extend_from_slice(env);
    let producer = Service::start(
        &release_binary("PRODUCER_BIN", "producer-service"),
        &all,
        log.to_owned(),
    )?;
    wait_ready(&format!("http://{management}/readyz"), "producer-service").await?;
    Ok((producer, addr))
}

fn release_binary(var: &str, name: &str) -> PathBuf {
    binary(var, || {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/release")
            .join(name)
    })
}

/// Polls `url` until it answers 2xx (a readiness endpoint has no event to
/// wait on from outside).
async fn wait_ready(url: &str, what: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while std::time::Instant::now() < deadline {
        let ready = client.get(url).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what} was not ready within 120 s")
}
