//! The benchmark: on one Apache Kafka broker, in one run, raw Kafka publishing
//! next to producer-service over HTTP, the API's latency at half its
//! maximum rate, a plain consumer next to consumer-service, and each
//! service's peak memory. Prints one table and, with `--out`, writes it with
//! the machine and the commands to a Markdown file. `scripts/bench.sh`
//! builds everything and runs it.

mod cpu;
mod report;
mod service;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use cpu::Processes;
use loadgen::http::HttpTarget;
use loadgen::raw::RawTarget;
use loadgen::run::{self, Mode, Outcome, Target, Until};
use report::{Figures, PublishRun, Settings};
use service::Service;
use test_support::kafka::{Broker, ORDERS_PARTITIONS};
use test_support::{binary, free_port};

/// Side-by-side benchmark of the services against raw Kafka clients.
#[derive(Parser)]
#[command(name = "bench", about)]
struct Args {
    /// Seconds each throughput and latency run lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Orders prefilled for the consumer comparison.
    #[arg(long, default_value_t = 200_000)]
    drain_count: u64,
    /// A run of seconds, not minutes, to prove the benchmark still works.
    #[arg(long)]
    smoke: bool,
    /// Write the table, the machine and the commands to this Markdown file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The topic the consumer comparison drains.
const DRAIN_TOPIC: &str = "bench-drain";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = if args.smoke {
        Settings {
            seconds: 1,
            drain_count: 2_000,
        }
    } else {
        Settings {
            seconds: args.seconds,
            drain_count: args.drain_count,
        }
    };
    let figures = measure(&settings).await?;
    let table = report::table(&figures, &settings);
    let cpu = report::cpu_table(&figures);
    println!("{table}\n{cpu}");
    if let Some(out) = args.out {
        std::fs::write(&out, report::markdown(&table, &cpu, &settings))
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("written to {}", out.display());
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
    let brokers = broker.bootstrap.clone();
    let elapsed = Until::Elapsed(Duration::from_secs(settings.seconds));
    let warm_up = Until::Elapsed(Duration::from_secs(settings.seconds.min(2)));
    let mut figures = Figures::default();

    eprintln!("publishing: raw Kafka, then producer-service over HTTP");
    let raw = Arc::new(RawTarget::new(&brokers, "orders")?);
    closed(&raw, 64, warm_up).await;
    let producer_addr = format!("127.0.0.1:{}", free_port());
    let producer = Service::start(
        &release_binary("PRODUCER_BIN", "producer-service"),
        &[("KAFKA_BROKERS", &brokers), ("HTTP_ADDR", &producer_addr)],
        dir.join("producer-service.log"),
    )?;
    let url = format!("http://{producer_addr}");
    wait_ready(&url).await?;
    let http = Arc::new(HttpTarget::new(&url)?);
    closed(&http, 64, warm_up).await;
    let processes = Processes {
        load: std::process::id(),
        service: producer.pid(),
        broker: broker.pid(),
    };
    for concurrency in [64, 256] {
        let raw = publish(&raw, concurrency, elapsed, processes).await?;
        let http = publish(&http, concurrency, elapsed, processes).await?;
        figures.publish.push((concurrency, raw, http));
    }

    let max = figures
        .publish
        .iter()
        .map(|(_, _, http)| http.rate)
        .fold(0.0, f64::max);
    let rate = (max / 2.0).max(1.0);
    eprintln!("latency: POST /orders at {rate:.0}/s, open loop");
    let latency = run::run(
        Arc::clone(&http),
        Mode::Open {
            rate,
            max_outstanding: 10_000,
        },
        elapsed,
        true,
        None,
    )
    .await;
    figures.latency = Some((rate, latency.summary, latency.skipped));
    figures.producer_rss_kib = producer.peak_rss_kib()?;
    producer.stop().context("producer-service")?;

    eprintln!(
        "consuming: {} prefilled orders, plain consumer, then consumer-service",
        settings.drain_count
    );
    let fill = run::run(
        Arc::new(RawTarget::new(&brokers, DRAIN_TOPIC)?),
        Mode::Closed { concurrency: 1024 },
        Until::Count(settings.drain_count),
        true,
        None,
    )
    .await;
    if fill.summary.stored != settings.drain_count {
        bail!(
            "prefilling {DRAIN_TOPIC} failed: {:?}",
            fill.summary.answers
        );
    }
    let (drain_brokers, count) = (brokers.clone(), settings.drain_count);
    let drained = tokio::task::spawn_blocking(move || {
        loadgen::drain::drain(&drain_brokers, DRAIN_TOPIC, count, Duration::from_secs(300))
    })
    .await??;
    let consumer = Service::start(
        &release_binary("CONSUMER_BIN", "consumer-service"),
        &[
            ("KAFKA_BROKERS", &brokers),
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("ORDERS_TOPIC", DRAIN_TOPIC),
            ("CONSUMER_GROUP", "bench"),
        ],
        dir.join("consumer-service.log"),
    )?;
    let processed = processed_rate(&consumer, settings.drain_count).await?;
    figures.consume = Some((drained.rate(), processed));
    figures.consumer_rss_kib = consumer.peak_rss_kib()?;
    consumer.stop().context("consumer-service")?;

    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(figures)
}

async fn closed<T: Target>(target: &Arc<T>, concurrency: usize, until: Until) -> Outcome {
    run::run(
        Arc::clone(target),
        Mode::Closed { concurrency },
        until,
        true,
        None,
    )
    .await
}

/// A closed-loop publish run, with the CPU each process spent on it.
async fn publish<T: Target>(
    target: &Arc<T>,
    concurrency: usize,
    until: Until,
    processes: Processes,
) -> anyhow::Result<PublishRun> {
    let before = processes.snapshot()?;
    let outcome = closed(target, concurrency, until).await;
    Ok(PublishRun {
        rate: outcome.summary.ok_rate(),
        orders: outcome.summary.stored,
        cpu: before.since(processes)?,
    })
}

fn release_binary(var: &str, name: &str) -> PathBuf {
    binary(var, || {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/release")
            .join(name)
    })
}

async fn wait_ready(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let ready = client.get(format!("{url}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("producer-service was not ready within 30 s")
}

/// Waits until consumer-service logged `count` processed orders and returns
/// its rate between the first and the last, from the log's timestamps (the
/// group join before the first is left out, as the plain consumer's
/// connection set-up is). The log is read incrementally, so waiting costs
/// the measured service little CPU.
async fn processed_rate(consumer: &Service, count: u64) -> anyhow::Result<f64> {
    const PROCESSED: &str = r#""message":"order processed""#;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut log = std::fs::File::open(&consumer.log)?;
    let (mut seen, mut pending) = (0_u64, String::new());
    let (mut first, mut last) = (None, None);
    while seen < count {
        if Instant::now() > deadline {
            bail!("consumer-service processed {seen} of {count} orders in 300 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        std::io::Read::read_to_string(&mut log, &mut pending)?;
        let complete = pending.rfind('\n').map_or(0, |end| end + 1);
        for line in pending[..complete]
            .lines()
            .filter(|l| l.contains(PROCESSED))
        {
            seen += 1;
            if first.is_none() {
                first = Some(timestamp(line)?);
            }
            if seen == count {
                last = Some(timestamp(line)?);
            }
        }
        pending.drain(..complete);
    }
    let span = last.context("no last line")? - first.context("no first line")?;
    let span = Duration::try_from(span).context("timestamps out of order")?;
    Ok(loadgen::stats::rate(count - 1, span))
}

fn timestamp(line: &str) -> anyhow::Result<time::OffsetDateTime> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    let stamp = value["timestamp"].as_str().context("no timestamp")?;
    Ok(time::OffsetDateTime::parse(
        stamp,
        &time::format_description::well_known::Rfc3339,
    )?)
}
