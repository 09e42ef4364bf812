//! The tables that show the benchmark's figures: side by side, the goals
//! with met or missed, and how cost grows.

use std::fmt::Write as _;

use loadgen::stats::{Summary, ms};

use crate::figures::{Figures, PublishRun, Settings};
use crate::units::{mib, thousands};

const RSS_TARGET_MIB: f64 = 40.0;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
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
        "| measurement | raw Kafka client | floor | producer-service | Strimzi bridge |\n\
         |---|---:|---:|---:|---:|\n",
    );
    for run in &figures.connections {
        let rate = |run: Option<&PublishRun>| run.map_or(String::new(), |run| thousands(run.rate));
        let (raw, floor) = (rate(run.raw.as_ref()), rate(run.floor.as_ref()));
        let _ = writeln!(
            t,
            "| publish, {} connections, orders/s | {raw} | {floor} | {} | {} |",
            run.connections,
            thousands(run.ours.rate),
            or_dash(run.bridge.as_ref(), |b| thousands(b.rate))
        );
    }
    if let Some(batch) = &figures.batch {
        let _ = writeln!(
            t,
            "| batches of {} per request, {} connections, orders/s | | | {} | {} |",
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
            "| open loop at {}/s: p50 / p99 / p99.9, ms | | {} | {} | {} |",
            thousands(latency.rate),
            latency.floor.as_ref().map_or(String::new(), show),
            show(&latency.ours),
            or_dash(latency.bridge.as_ref(), show)
        );
    }
    let _ = writeln!(
        t,
        "| peak RSS over these runs, MiB | | | {:.1} | {} |",
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
            "≤ 5 ms",
            ours.as_secs_f64() <= 0.005 && latency.ours.1 == 0,
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
            "≥ 0.80",
            r >= 0.8,
        );
        // The raw client's process is the load generator of its run: its
        // CPU per order is what publishing through librdkafka costs.
        let [raw_client, ..] = raw.cpu.micros_per_order(raw.orders);
        let [_, server, ..] = run.ours.cpu.micros_per_order(run.ours.orders);
        let r = ratio(server, raw_client);
        row(
            "CPU per order, producer-service vs the raw client, 256 connections",
            Some(format!("{r:.1}× ({server:.0} against {raw_client:.0} µs)")),
            "≤ 3×",
            r <= 3.0,
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
            "≥ 0.50",
            r >= 0.5,
        );
    }
    for (goal, measured, target, met) in crate::floor::goals(figures) {
        row(&goal, Some(measured), target, met);
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
