//! The benchmark's figures, and the tables that show them: side by side,
//! the goals with met or missed, where the CPU goes, and how cost grows.

use std::fmt::Write as _;
use std::time::Duration;

use loadgen::stats::{Summary, ms};

use crate::cpu::Usage;

/// How long and how much the benchmark runs.
pub struct Settings {
    /// Seconds per throughput or latency run.
    pub seconds: u64,
    /// Orders prefilled for the consumer runs.
    pub drain_count: u64,
    /// Orders prefilled for the runs of 1, 2 and 3 consumer instances.
    pub scaling_count: u64,
    /// Connection counts of the closed-loop runs.
    pub connections: Vec<usize>,
    /// Connections of the batch runs.
    pub batch_connections: usize,
    /// Orders (records) per batch request.
    pub batch_size: usize,
    /// Idle keep-alive connections at which memory is read.
    pub idle_connections: Vec<usize>,
    /// Whether the Strimzi Kafka Bridge runs beside our service.
    pub bridge: bool,
}

impl Settings {
    /// The full run.
    pub fn full(seconds: u64, drain_count: u64) -> Self {
        Self {
            seconds,
            drain_count,
            scaling_count: 5 * drain_count,
            connections: vec![1, 16, 64, 256, 1024],
            batch_connections: 16,
            batch_size: 100,
            idle_connections: vec![100, 1_000, 5_000],
            bridge: true,
        }
    }

    /// Seconds long: every step once, tiny.
    pub fn smoke() -> Self {
        Self {
            seconds: 1,
            drain_count: 2_000,
            scaling_count: 20_000,
            connections: vec![1, 64, 256],
            batch_connections: 4,
            batch_size: 100,
            idle_connections: vec![10, 100],
            bridge: true,
        }
    }
}

/// One publish run: its rate and what it cost.
pub struct PublishRun {
    /// Orders stored per second.
    pub rate: f64,
    /// Orders stored.
    pub orders: u64,
    /// CPU each process spent during the run.
    pub cpu: Usage,
    /// 99th percentile latency of a request (not for batches).
    pub p99: Option<Duration>,
}

/// The closed-loop runs at one connection count.
pub struct ConnectionsRun {
    /// Connections (closed-loop workers).
    pub connections: usize,
    /// Raw Kafka publishing, at the counts the ratio needs.
    pub raw: Option<PublishRun>,
    /// producer-service, `POST /orders`.
    pub ours: PublishRun,
    /// The bridge, one record per request (none with `--no-bridge`).
    pub bridge: Option<PublishRun>,
}

/// Both HTTP servers at one open-loop rate.
pub struct Latency {
    /// Orders per second offered to each.
    pub rate: f64,
    /// producer-service's latency summary and skipped orders.
    pub ours: (Summary, u64),
    /// The bridge's.
    pub bridge: Option<(Summary, u64)>,
}

/// Batch requests on both servers.
pub struct BatchRuns {
    /// Connections.
    pub connections: usize,
    /// Orders per request.
    pub size: usize,
    /// `POST /orders/batch`.
    pub ours: PublishRun,
    /// `POST /topics/orders` with `size` records.
    pub bridge: Option<PublishRun>,
}

/// What was measured.
#[derive(Default)]
pub struct Figures {
    /// Closed-loop runs by connection count.
    pub connections: Vec<ConnectionsRun>,
    /// Open-loop latency.
    pub latency: Option<Latency>,
    /// Batches.
    pub batch: Option<BatchRuns>,
    /// Peak resident memory of producer-service over the publish runs.
    pub producer_rss_kib: u64,
    /// The same, up to the end of its 256-connection run.
    pub producer_rss_to_256_kib: u64,
    /// Peak resident memory of the bridge over the same runs.
    pub bridge_rss_kib: Option<u64>,
    /// producer-service's memory against idle keep-alive connections.
    pub idle_rss: Vec<(usize, u64)>,
    /// Plain consumer and consumer-service orders/s, one broker.
    pub consume: Option<(f64, f64)>,
    /// Peak resident memory of consumer-service.
    pub consumer_rss_kib: u64,
    /// consumer-service instances in one group and their orders/s, on a
    /// three-node cluster.
    pub scaling: Vec<(usize, f64)>,
}

impl Figures {
    /// The closed-loop runs at `connections`.
    pub fn at(&self, connections: usize) -> Option<&ConnectionsRun> {
        self.connections
            .iter()
            .find(|run| run.connections == connections)
    }
}

const RSS_TARGET_MIB: f64 = 40.0;

pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

/// `12345.6` as `12,346`.
pub fn thousands(value: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    // rates are small and positive
    let digits = (value.round() as u64).to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[allow(clippy::cast_precision_loss)] // KiB counts far below 2^52
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ratio(ours: f64, theirs: f64) -> f64 {
    ours / theirs.max(f64::MIN_POSITIVE)
}

/// Every table, in the order the report shows them.
pub fn tables(figures: &Figures, settings: &Settings) -> String {
    let mut out = String::new();
    out.push_str(&side_by_side(figures));
    out.push('\n');
    out.push_str(&goals(figures, settings));
    out.push('\n');
    out.push_str(&crate::document::cpu_table(figures));
    out.push('\n');
    out.push_str(&growth(figures));
    out
}

/// A bridge figure, or a dash where the bridge did not run.
fn or_dash<T>(value: Option<T>, show: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| "—".to_owned(), show)
}

fn side_by_side(figures: &Figures) -> String {
    let mut t = String::from(
        "| measurement | raw Kafka client | producer-service | Strimzi bridge |\n\
         |---|---:|---:|---:|\n",
    );
    for run in &figures.connections {
        let raw = run
            .raw
            .as_ref()
            .map_or(String::new(), |raw| thousands(raw.rate));
        let _ = writeln!(
            t,
            "| publish, {} connections, orders/s | {raw} | {} | {} |",
            run.connections,
            thousands(run.ours.rate),
            or_dash(run.bridge.as_ref(), |b| thousands(b.rate))
        );
    }
    if let Some(batch) = &figures.batch {
        let _ = writeln!(
            t,
            "| batches of {} per request, {} connections, orders/s | | {} | {} |",
            batch.size,
            batch.connections,
            thousands(batch.ours.rate),
            or_dash(batch.bridge.as_ref(), |b| thousands(b.rate))
        );
    }
    if let Some(latency) = &figures.latency {
        let show = |(summary, skipped): &(Summary, u64)| {
            let skipped = if *skipped > 0 {
                format!(" ({skipped} skipped)")
            } else {
                String::new()
            };
            format!(
                "{} / {} / {}{skipped}",
                ms(summary.p50),
                ms(summary.p99),
                ms(summary.p999)
            )
        };
        let _ = writeln!(
            t,
            "| open loop at {}/s: p50 / p99 / p99.9, ms | | {} | {} |",
            thousands(latency.rate),
            show(&latency.ours),
            or_dash(latency.bridge.as_ref(), show)
        );
    }
    let _ = writeln!(
        t,
        "| peak RSS over these runs, MiB | | {:.1} | {} |",
        mib(figures.producer_rss_kib),
        or_dash(figures.bridge_rss_kib, |kib| format!("{:.1}", mib(kib)))
    );
    t
}

fn goals(figures: &Figures, settings: &Settings) -> String {
    let mut t = String::from("| goal | measured | target | |\n|---|---:|---|---|\n");
    let mut row = |goal: &str, measured: Option<String>, target: &str, met: bool| {
        let (measured, verdict) = match measured {
            Some(measured) => (measured, verdict(met)),
            None => ("—".to_owned(), "not measured: no bridge"),
        };
        let _ = writeln!(t, "| {goal} | {measured} | {target} | {verdict} |");
    };
    for connections in [64, 256] {
        let Some(run) = figures.at(connections) else {
            continue;
        };
        let r = run.bridge.as_ref().map(|b| ratio(run.ours.rate, b.rate));
        row(
            &format!("throughput vs the bridge, {connections} connections"),
            r.map(|r| format!("{r:.2}×")),
            "≥ 2×",
            r.is_some_and(|r| r >= 2.0),
        );
    }
    if let Some(latency) = &figures.latency {
        let ours = latency.ours.0.p99;
        let r = latency
            .bridge
            .as_ref()
            .map(|(bridge, _)| ratio(ours.as_secs_f64(), bridge.p99.as_secs_f64()));
        row(
            "p99 vs the bridge's, same open-loop rate",
            r.map(|r| format!("{r:.2}")),
            "≤ 0.50",
            r.is_some_and(|r| r <= 0.5),
        );
        row(
            "p99 at that rate",
            Some(format!("{} ms", ms(ours))),
            "≤ 20 ms",
            ours.as_secs_f64() <= 0.020 && latency.ours.1 == 0,
        );
    }
    #[allow(clippy::cast_precision_loss)] // KiB counts far below 2^52
    let r = figures
        .bridge_rss_kib
        .map(|bridge| figures.producer_rss_kib as f64 / bridge.max(1) as f64);
    row(
        "peak RSS vs the bridge's",
        r.map(|r| format!("{r:.3}")),
        "≤ 0.10",
        r.is_some_and(|r| r <= 0.1),
    );
    if let Some(run) = figures.at(256)
        && let Some(raw) = &run.raw
    {
        let r = ratio(run.ours.rate, raw.rate);
        row(
            "throughput vs raw publishing, 256 connections",
            Some(format!("{r:.2}")),
            "≥ 0.60",
            r >= 0.6,
        );
    }
    if let Some((raw, service)) = figures.consume {
        let r = ratio(service, raw);
        #[allow(clippy::cast_precision_loss)] // small counts
        let count = thousands(settings.drain_count as f64);
        row(
            &format!("consume {count} orders, consumer-service vs a plain consumer"),
            Some(format!(
                "{r:.2} ({} of {} orders/s)",
                thousands(service),
                thousands(raw)
            )),
            "≥ 0.80",
            r >= 0.8,
        );
    }
    for (name, kib) in [
        (
            "producer-service, up to 256 connections",
            figures.producer_rss_to_256_kib,
        ),
        ("consumer-service", figures.consumer_rss_kib),
    ] {
        row(
            &format!("peak RSS of {name}"),
            Some(format!("{:.1} MiB", mib(kib))),
            "≤ 40 MiB",
            mib(kib) <= RSS_TARGET_MIB,
        );
    }
    t
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn growth(figures: &Figures) -> String {
    let mut t = String::from(
        "| connections | producer-service orders/s | p99, ms | Strimzi bridge orders/s | p99, ms |\n\
         |---:|---:|---:|---:|---:|\n",
    );
    let p99 = |run: &PublishRun| run.p99.map_or(String::new(), ms);
    for run in &figures.connections {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} |",
            thousands(run.connections as f64),
            thousands(run.ours.rate),
            p99(&run.ours),
            or_dash(run.bridge.as_ref(), |b| thousands(b.rate)),
            or_dash(run.bridge.as_ref(), p99)
        );
    }
    t.push_str("\n| consumer-service instances | orders/s | vs one |\n|---:|---:|---:|\n");
    let one = figures
        .scaling
        .first()
        .map_or(f64::MIN_POSITIVE, |(_, rate)| *rate);
    for (instances, rate) in &figures.scaling {
        let _ = writeln!(
            t,
            "| {instances} | {} | {:.2} |",
            thousands(*rate),
            ratio(*rate, one)
        );
    }
    t.push_str(
        "\n| idle keep-alive connections | producer-service RSS, MiB | per connection, KiB |\n\
         |---:|---:|---:|\n",
    );
    let base = figures.idle_rss.first().map_or(0, |(_, kib)| *kib);
    for (connections, kib) in &figures.idle_rss {
        let per = if *connections == 0 {
            String::new()
        } else {
            format!("{:.1}", (*kib as f64 - base as f64) / *connections as f64)
        };
        let _ = writeln!(
            t,
            "| {} | {:.1} | {per} |",
            thousands(*connections as f64),
            mib(*kib)
        );
    }
    t
}
