//! One of the benchmark's loads alone: producer-service at 256 connections
//! in a closed loop, or consumer-service draining prefilled orders. Prints
//! the run's rate and the CPU each process spent per order, so that a
//! change can be measured in a minute; under `perf record` when asked, for
//! a flame graph (`scripts/profile.sh` draws it).

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::ValueEnum;
use loadgen::http::HttpTarget;
use loadgen::raw::RawTarget;
use loadgen::run::{self, Mode, Until};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use test_support::kafka::{Broker, ORDERS_PARTITIONS};

use crate::cpu::Processes;
use crate::figures::Settings;
use crate::service::Service;
use crate::{DRAIN_TOPIC, consume, prefill, release_binary, start_producer};

/// Which service to profile.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Profiled {
    /// producer-service, 256 connections, closed loop, `--seconds`.
    Producer,
    /// consumer-service draining `--drain-count` prefilled orders.
    Consumer,
}

/// Connections of the producer's profiled run, as in the goal it informs.
const CONNECTIONS: usize = 256;

/// Runs `which`, under `perf record` writing to `perf_data` if given.
pub async fn run(
    which: Profiled,
    settings: &Settings,
    dir: &Path,
    perf_data: Option<&Path>,
) -> anyhow::Result<()> {
    let broker = tokio::task::spawn_blocking(|| {
        let broker = Broker::start();
        broker.create_topic(DRAIN_TOPIC, ORDERS_PARTITIONS);
        broker
    })
    .await?;
    match which {
        Profiled::Producer => producer(&broker, settings, dir, perf_data).await,
        Profiled::Consumer => consumer(&broker, settings, dir, perf_data).await,
    }
}

async fn producer(
    broker: &Broker,
    settings: &Settings,
    dir: &Path,
    perf_data: Option<&Path>,
) -> anyhow::Result<()> {
    // KAFKA_PROPERTIES passes through, to measure a librdkafka setting.
    let properties = std::env::var("KAFKA_PROPERTIES").unwrap_or_default();
    let (producer, addr) = start_producer(
        &broker.bootstrap,
        &[("KAFKA_PROPERTIES", &properties)],
        &dir.join("producer-service.log"),
    )
    .await?;
    let target = Arc::new(HttpTarget::new(&format!("http://{addr}"))?);
    let closed = |seconds| {
        run::run(
            Arc::clone(&target),
            Mode::Closed {
                concurrency: CONNECTIONS,
            },
            Until::Elapsed(Duration::from_secs(seconds)),
            true,
            None,
        )
    };
    // The broker's JIT and the service's connections settle first.
    eprintln!("warming up: {CONNECTIONS} connections, 15 s");
    closed(15).await;
    let processes = Processes {
        load: std::process::id(),
        service: producer.pid(),
        broker: broker.pid(),
    };
    let perf = Perf::record(producer.pid(), perf_data)?;
    let before = processes.snapshot()?;
    let outcome = closed(settings.seconds).await;
    let usage = before.since(processes)?;
    perf.stop()?;
    let [load, service, kafka, _] = usage.micros_per_order(outcome.summary.stored);
    println!(
        "producer-service, {CONNECTIONS} connections, {} s: {:.0} orders/s; CPU per order: \
         service {service:.1} µs, load generator {load:.1} µs, broker {kafka:.1} µs; \
         peak RSS {} KiB",
        settings.seconds,
        outcome.summary.ok_rate(),
        producer.peak_rss_kib()?,
    );
    // Latency at a fixed, moderate rate: the full benchmark's open loop runs
    // at half the bridge's best, which moves from run to run.
    let rate = 1500.0;
    let open = run::run(
        Arc::clone(&target),
        Mode::Open {
            rate,
            max_outstanding: 10_000,
        },
        Until::Elapsed(Duration::from_secs(settings.seconds)),
        true,
        None,
    )
    .await;
    println!(
        "open loop at {rate:.0}/s: p50 {:.2} ms, p99 {:.2} ms",
        open.summary.p50.as_secs_f64() * 1e3,
        open.summary.p99.as_secs_f64() * 1e3
    );
    // Raw publishing right after, for the two ratios of the goals.
    let raw = Arc::new(RawTarget::new(&broker.bootstrap, "orders")?);
    let raw_run = |seconds| {
        run::run(
            Arc::clone(&raw),
            Mode::Closed {
                concurrency: CONNECTIONS,
            },
            Until::Elapsed(Duration::from_secs(seconds)),
            true,
            None,
        )
    };
    raw_run(3).await;
    let before = processes.snapshot()?;
    let raw_outcome = raw_run(settings.seconds).await;
    let [raw_load, ..] = before
        .since(processes)?
        .micros_per_order(raw_outcome.summary.stored);
    println!(
        "raw publishing, same connections: {:.0} orders/s, {raw_load:.1} µs per order; \
         producer-service at {:.2} of its rate, {:.1} times its CPU per order",
        raw_outcome.summary.ok_rate(),
        outcome.summary.ok_rate() / raw_outcome.summary.ok_rate(),
        service / raw_load,
    );
    producer.stop().context("producer-service")
}

async fn consumer(
    broker: &Broker,
    settings: &Settings,
    dir: &Path,
    perf_data: Option<&Path>,
) -> anyhow::Result<()> {
    eprintln!("prefilling {} orders", settings.drain_count);
    prefill(&broker.bootstrap, settings.drain_count).await?;
    // A plain consumer first, for the goal's ratio, as the benchmark does.
    let (brokers, count) = (broker.bootstrap.clone(), settings.drain_count);
    let plain = tokio::task::spawn_blocking(move || {
        loadgen::drain::drain(&brokers, DRAIN_TOPIC, count, Duration::from_secs(300))
    })
    .await??
    .rate();
    let properties = std::env::var("KAFKA_PROPERTIES").unwrap_or_default();
    let consumer = Service::start(
        &release_binary("CONSUMER_BIN", "consumer-service"),
        &[
            ("KAFKA_BROKERS", &broker.bootstrap),
            ("MANAGEMENT_ADDR", "127.0.0.1:0"),
            ("ORDERS_TOPIC", DRAIN_TOPIC),
            ("CONSUMER_GROUP", "profile"),
            ("KAFKA_PROPERTIES", &properties),
        ],
        dir.join("consumer-service.log"),
    )?;
    let perf = Perf::record(consumer.pid(), perf_data)?;
    let rate =
        consume::processed_rate(std::slice::from_ref(&consumer), settings.drain_count).await?;
    perf.stop()?;
    println!(
        "consumer-service draining {} orders: {rate:.0} orders/s, {:.2} of a plain consumer's \
         {plain:.0}; peak RSS {} KiB",
        settings.drain_count,
        rate / plain,
        consumer.peak_rss_kib()?,
    );
    consumer.stop().context("consumer-service")
}

/// `perf record` attached to one process, with DWARF call stacks: release
/// builds have no frame pointers, and neither do librdkafka and libc.
/// Without a data file, nothing is recorded.
struct Perf(Option<Child>);

impl Perf {
    fn record(pid: u32, data: Option<&Path>) -> anyhow::Result<Self> {
        let Some(data) = data else {
            return Ok(Self(None));
        };
        let child = Command::new("perf")
            .args([
                "record",
                "--quiet",
                "-F",
                "499",
                "--call-graph",
                "dwarf,16384",
            ])
            .arg("-p")
            .arg(pid.to_string())
            .arg("-o")
            .arg(data)
            .stdout(Stdio::null())
            .spawn()
            .context("cannot run perf (Debian: apt-get install linux-perf)")?;
        Ok(Self(Some(child)))
    }

    /// Stops recording (SIGINT, as at ctrl-c) and waits for perf to write
    /// its data.
    fn stop(self) -> anyhow::Result<()> {
        let Some(mut perf) = self.0 else {
            return Ok(());
        };
        kill(Pid::from_raw(i32::try_from(perf.id())?), Signal::SIGINT)?;
        let status = perf.wait()?;
        // perf ends by raising the signal it stopped for.
        if !status.success() && status.signal() != Some(Signal::SIGINT as i32) {
            bail!("perf record exited with {status}");
        }
        Ok(())
    }
}
