//! The benchmark's figures as one Markdown table, and the file around it:
//! the machine, the settings and the commands that produced it.

use std::fmt::Write as _;
use std::process::Command;

use loadgen::stats::{Summary, ms};

use crate::cpu::Usage;

/// How long and how much the benchmark runs.
pub struct Settings {
    /// Seconds per throughput or latency run.
    pub seconds: u64,
    /// Orders prefilled for the consumer comparison.
    pub drain_count: u64,
}

/// One publish run: its rate and what it cost.
pub struct PublishRun {
    /// Orders stored per second.
    pub rate: f64,
    /// Orders stored.
    pub orders: u64,
    /// CPU each process spent during the run.
    pub cpu: Usage,
}

/// What was measured.
#[derive(Default)]
pub struct Figures {
    /// Per concurrency: the raw publish run and the HTTP run.
    pub publish: Vec<(usize, PublishRun, PublishRun)>,
    /// Open-loop rate, its latency summary, and orders skipped.
    pub latency: Option<(f64, Summary, u64)>,
    /// Plain consumer and consumer-service orders/s.
    pub consume: Option<(f64, f64)>,
    /// Peak resident memory of producer-service.
    pub producer_rss_kib: u64,
    /// Peak resident memory of consumer-service.
    pub consumer_rss_kib: u64,
}

const RSS_TARGET_MIB: f64 = 40.0;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

/// `12345.6` as `12,346`.
fn thousands(value: f64) -> String {
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
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The results as a Markdown table, with each target and whether it was met.
pub fn table(figures: &Figures, settings: &Settings) -> String {
    let mut t = String::from(
        "| measurement | raw Kafka client | our service | ratio | target | |\n\
         |---|---:|---:|---:|---|---|\n",
    );
    for (concurrency, raw, http) in &figures.publish {
        let ratio = http.rate / raw.rate.max(f64::MIN_POSITIVE);
        let _ = writeln!(
            t,
            "| publish, {concurrency} connections, orders/s | {} | {} | {ratio:.2} | ≥ 0.60 | {} |",
            thousands(raw.rate),
            thousands(http.rate),
            verdict(ratio >= 0.6)
        );
    }
    if let Some((rate, summary, skipped)) = &figures.latency {
        let _ = writeln!(
            t,
            "| `POST /orders` at {}/s (half the maximum), open loop: p50 / p90 / p99 / p99.9 / max, ms | | {} / {} / {} / {} / {} | | p99 ≤ 20 ms | {} |",
            thousands(*rate),
            ms(summary.p50),
            ms(summary.p90),
            ms(summary.p99),
            ms(summary.p999),
            ms(summary.max),
            verdict(summary.p99.as_secs_f64() <= 0.020 && *skipped == 0)
        );
    }
    if let Some((raw, service)) = figures.consume {
        let ratio = service / raw.max(f64::MIN_POSITIVE);
        let _ = writeln!(
            t,
            "| consume {} prefilled orders, orders/s | {} | {} | {ratio:.2} | ≥ 0.80 | {} |",
            thousands(settings.drain_count as f64),
            thousands(raw),
            thousands(service),
            verdict(ratio >= 0.8)
        );
    }
    for (name, kib) in [
        ("producer-service", figures.producer_rss_kib),
        ("consumer-service", figures.consumer_rss_kib),
    ] {
        let _ = writeln!(
            t,
            "| peak RSS of {name}, MiB | | {:.1} | | ≤ {RSS_TARGET_MIB:.0} MiB | {} |",
            mib(kib),
            verdict(mib(kib) <= RSS_TARGET_MIB)
        );
    }
    t
}

/// Where the CPU went in each publish run: microseconds per stored order
/// for each process, and how many cores were busy on average.
pub fn cpu_table(figures: &Figures) -> String {
    let mut t = String::from(
        "| publish run | orders/s | load generator | service | broker | all | cores busy |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (concurrency, raw, http) in &figures.publish {
        for (name, run) in [("raw Kafka client", raw), ("producer-service, HTTP", http)] {
            let [load, service, broker, all] = run.cpu.micros_per_order(run.orders);
            let _ = writeln!(
                t,
                "| {name}, {concurrency} connections | {} | {load:.0} | {service:.0} | {broker:.0} | {all:.0} | {:.2} |",
                thousands(run.rate),
                run.cpu.cores_busy()
            );
        }
    }
    if let Some((concurrency, raw, http)) = figures.publish.last() {
        t.push('\n');
        t.push_str(&cpu_reading(*concurrency, raw, http));
    }
    t
}

/// What the CPU figures of the busiest publish pair say, in words.
fn cpu_reading(concurrency: usize, raw: &PublishRun, http: &PublishRun) -> String {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let [.., raw_all] = raw.cpu.micros_per_order(raw.orders);
    let [load, service, broker, all] = http.cpu.micros_per_order(http.orders);
    #[allow(clippy::cast_precision_loss)] // a handful of cores
    let capacity = cores as f64 * 1e6 / service.max(f64::MIN_POSITIVE);
    format!(
        "At {concurrency} connections the raw client kept {:.2} cores busy, \
         {raw_all:.0} µs of CPU per order: it waits on the broker's \
         acknowledgements, not on the CPU. The HTTP run kept {:.2} of the \
         {cores} cores busy at {all:.0} µs per order, so the CPU bounds it; the \
         load generator's HTTP client took {load:.0} µs and the broker \
         {broker:.0} µs of each order on the same cores. producer-service \
         itself spent {service:.0} µs per order: with the {cores} cores to \
         itself it would serve about {} orders/s, {:.2} of raw publishing (a \
         projection from the measured CPU time, not a measurement).\n",
        raw.cpu.cores_busy(),
        http.cpu.cores_busy(),
        thousands(capacity),
        capacity / raw.rate.max(f64::MIN_POSITIVE),
    )
}

/// The first line `command` prints (on standard output, or on standard
/// error as `java -version` does).
fn first_line(command: &str, args: &[&str]) -> String {
    Command::new(command)
        .args(args)
        .output()
        .ok()
        .map(|out| {
            if out.stdout.is_empty() {
                out.stderr
            } else {
                out.stdout
            }
        })
        .and_then(|out| String::from_utf8(out).ok())
        .and_then(|out| out.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("unknown", |l| l.trim_start_matches([' ', '\t', ':']));
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.0} GiB", mib(kib) / 1024.0),
        );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "- CPU: {model}, {cores} cores; memory {memory}; Linux {}\n\
         - {}; Apache Kafka {} (one KRaft node, `-Xmx512m`, {}), on loopback\n\
         - The broker, the service under test and the load generator share these cores.\n",
        kernel.trim(),
        first_line("rustc", &["--version"]),
        test_support::kafka::KAFKA_VERSION,
        first_line("java", &["-version"]),
    )
}

/// The whole BENCHMARKS.md.
pub fn markdown(table: &str, cpu: &str, settings: &Settings) -> String {
    let now = time::OffsetDateTime::now_utc();
    let date = format!("{} {:02}:{:02} UTC", now.date(), now.hour(), now.minute());
    let (s, n) = (settings.seconds, settings.drain_count);
    format!(
        "# Benchmarks\n\n\
         Written by `scripts/bench.sh` on {date}; run it again to refresh (the \
         file is regenerated whole).\n\n\
         ## Machine\n\n{machine}\n\
         ## Results\n\n{table}\n\
         Ratios compare runs made side by side in the same process, minutes \
         apart, against the same broker.\n\n\
         ## Where the CPU goes\n\n\
         CPU time of each process during each publish run (user plus system, \
         from `/proc/PID/stat`), in microseconds per stored order. The load \
         generator is the raw Kafka client in raw runs and an HTTP client in \
         HTTP runs; the service idles during raw runs. When the cores busy \
         approach the machine's core count the run is CPU-bound, and its rate \
         is about cores ÷ CPU per order.\n\n{cpu}\n\
         ## What each row runs\n\n\
         Every step is a `loadgen` run (`cargo run --release -p loadgen -- --help`), \
         with orders of one to five random line items:\n\n\
         1. Publish: `loadgen raw --concurrency C --duration-secs {s}` (Kafka \
         directly, through producer-service's own `Publisher`: same settings, \
         encoding and headers) next to `loadgen http --concurrency C \
         --duration-secs {s}` against producer-service, for C = 64 and 256, \
         after a warm-up of each. Closed loop: each connection sends its next \
         order when the last is answered, so orders/s ≈ C / latency.\n\
         2. Latency: `loadgen http --rate R --duration-secs {s}` with R half of \
         the best rate of step 1. Open loop: orders are sent on schedule \
         whatever the answers, and latency counts from the scheduled time, \
         so a stall cannot hide queued requests (no coordinated omission).\n\
         3. Consume: {n} orders prefilled with `loadgen raw --count {n} \
         --concurrency 1024` into a 6-partition topic; `loadgen drain --count \
         {n}` (a plain consumer that reads and drops) next to consumer-service \
         draining the same topic in a new group while logging every order as \
         JSON to a file. Rates run from the first record to the last, so \
         connecting and the group join are left out of both.\n\
         4. Peak RSS: the kernel's `VmHWM` of each service process at the end \
         of its runs.\n\n\
         ## Settings\n\n\
         - Producer (both sides of step 1): `acks=all`, \
         `enable.idempotence=true`, `max.in.flight.requests.per.connection=1`, \
         `message.timeout.ms=10000` \
         (`DELIVERY_TIMEOUT_MS`), `reconnect.backoff.max.ms=1000`, \
         `queue.buffering.max.messages=2048` (twice `MAX_IN_FLIGHT_ORDERS`, which \
         bounds the producer's memory), librdkafka's defaults otherwise \
         (`linger.ms=5`, `batch.num.messages=10000`).\n\
         - Consumer (step 3): librdkafka's defaults on both sides \
         (`fetch.max.bytes=52428800`), except the prefetch queue: \
         `queued.max.messages.kbytes=65536` for the plain consumer, 8192 for \
         consumer-service (with `fetch.queue.backoff.ms=10`).\n\
         - Services: release builds (`scripts/build-release.sh`), JSON logs to \
         a file, one INFO line per order on both.\n",
        machine = machine()
    )
}
