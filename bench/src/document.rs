//! The report around the tables: where the CPU goes (with what it says in
//! words), the machine, the settings and the commands behind each row.

use std::fmt::Write as _;
use std::process::Command;

use crate::figures::{ConnectionsRun, Figures, PublishRun, Settings};
use crate::units::{mib, thousands};

/// Where the CPU went in the runs the goals compare: microseconds per
/// stored order for each process, and how many cores were busy.
pub fn cpu_table(figures: &Figures) -> String {
    let mut t = String::from(
        "| run | orders/s | load generator | server | broker | all | cores busy |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut row = |name: String, run: &PublishRun| {
        let [load, server, broker, all] = run.cpu.micros_per_order(run.orders);
        let _ = writeln!(
            t,
            "| {name} | {} | {load:.0} | {server:.0} | {broker:.0} | {all:.0} | {:.2} |",
            thousands(run.rate),
            run.cpu.cores_busy()
        );
    };
    for connections in [64, 256] {
        let Some(run) = figures.at(connections) else {
            continue;
        };
        if let Some(raw) = &run.raw {
            row(format!("raw Kafka client, {connections} connections"), raw);
        }
        if let Some(floor) = &run.floor {
            row(format!("producer floor, {connections} connections"), floor);
        }
        row(
            format!("producer-service, {connections} connections"),
            &run.ours,
        );
        if let Some(bridge) = &run.bridge {
            row(format!("Strimzi bridge, {connections} connections"), bridge);
        }
    }
    if let Some(batch) = &figures.batch {
        row(
            format!("producer-service, batches of {}", batch.size),
            &batch.ours,
        );
        if let Some(bridge) = &batch.bridge {
            row(format!("Strimzi bridge, batches of {}", batch.size), bridge);
        }
    }
    if let Some(run) = figures.at(256)
        && let Some(bridge) = &run.bridge
    {
        t.push('\n');
        t.push_str(&reading(run, bridge));
    }
    t
}

/// What the CPU figures at 256 connections say, in words.
fn reading(run: &ConnectionsRun, bridge_run: &PublishRun) -> String {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let [load, ours, broker, all] = run.ours.cpu.micros_per_order(run.ours.orders);
    let [bridge_load, bridge, bridge_broker, bridge_all] =
        bridge_run.cpu.micros_per_order(bridge_run.orders);
    #[allow(clippy::cast_precision_loss)] // a handful of cores
    let capacity = |micros: f64| cores as f64 * 1e6 / micros.max(f64::MIN_POSITIVE);
    let mut text = format!(
        "At 256 connections the whole machine spent {all:.0} µs of CPU per order \
         through producer-service ({:.2} of the {cores} cores busy) and \
         {bridge_all:.0} µs through the bridge ({:.2} busy). The server itself \
         took {ours:.0} µs per order here and {bridge:.0} µs there; the load \
         generator {load:.0} and {bridge_load:.0} µs, the broker {broker:.0} \
         and {bridge_broker:.0} µs, all on the same cores. With the {cores} \
         cores to itself, producer-service would serve about {} orders/s and \
         the bridge about {} (a projection from the measured CPU time, not a \
         measurement).",
        run.ours.cpu.cores_busy(),
        bridge_run.cpu.cores_busy(),
        thousands(capacity(ours)),
        thousands(capacity(bridge)),
    );
    if let Some(raw) = &run.raw {
        let [.., raw_all] = raw.cpu.micros_per_order(raw.orders);
        let _ = write!(
            text,
            " The raw client spent {raw_all:.0} µs per order with {:.2} cores \
             busy: when the HTTP runs keep every core busy they are CPU-bound, \
             and the load generator and the broker take their share of the cores \
             the server would otherwise have.",
            raw.cpu.cores_busy()
        );
    }
    text.push('\n');
    text
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
         - {}; Apache Kafka {} (KRaft, `-Xmx512m` per node, {}); Strimzi Kafka Bridge {}; all on loopback\n\
         - The broker, the service under test and the load generator share these cores.\n",
        kernel.trim(),
        first_line("rustc", &["--version"]),
        test_support::kafka::KAFKA_VERSION,
        first_line("java", &["-version"]),
        bridge_version(),
    )
}

/// The version `scripts/strimzi-bridge.sh` runs.
fn bridge_version() -> &'static str {
    include_str!("../../scripts/strimzi-bridge.sh")
        .lines()
        .find_map(|line| line.strip_prefix("BRIDGE_VERSION="))
        .unwrap_or("unknown")
}

/// The whole BENCHMARKS.md.
pub fn markdown(tables: &str, settings: &Settings) -> String {
    let now = time::OffsetDateTime::now_utc();
    let date = format!("{} {:02}:{:02} UTC", now.date(), now.hour(), now.minute());
    let (s, n, m) = (
        settings.seconds,
        settings.drain_count,
        settings.scaling_count,
    );
    let (bc, bs) = (settings.batch_connections, settings.batch_size);
    format!(
        "# Benchmarks\n\n\
         Written by `scripts/bench.sh` on {date}; run it again to refresh (the \
         file and the charts are regenerated whole).\n\n\
         ## Machine\n\n{machine}\n\
         ## Results\n\n\
         Side by side, then each goal as a ratio of figures from this one run, \
         then where the CPU went and how cost grows.\n\n{tables}\n\
         ![Throughput and p99 against connections](docs/bench-connections.png)\n\n\
         ![consumer-service drain rate against instances](docs/bench-consumers.png)\n\n\
         ## What each row runs\n\n\
         Every HTTP and raw step is a `loadgen` run (`cargo run --release -p \
         loadgen -- --help`) or the same code, with orders of one to five \
         random line items (about 200 bytes of JSON):\n\n\
         1. Publish, closed loop: `loadgen raw` (Kafka directly, through \
         producer-service's own `Publisher`: same settings, encoding and \
         headers) and the producer floor (below) at 64 and 256 \
         connections; producer-service's `POST /orders` and the Strimzi Kafka Bridge's `POST /topics/orders` (one \
         record per request, keyed by the order id, its value the same order \
         JSON) at each connection count, {s} s each, after a warm-up of each \
         (the bridge's twice as long, for its JIT) and an unmeasured run at \
         that connection count, which opens the connections (and the \
         bridge's producer for each). Each server runs alone: the bridge's \
         JVM starts after producer-service's runs, which then idles. Each \
         connection sends its \
         next order when the last is answered, so orders/s ≈ connections ÷ \
         latency.\n\
         2. Latency, open loop: the servers and the producer floor at the \
         same rate, half the best rate of the slower server in step 1, {s} s \
         each. Orders are sent on \
         schedule whatever the answers, and latency counts from the scheduled \
         time, so a stall cannot hide queued requests (no coordinated \
         omission).\n\
         3. Batches: {bc} connections, each sending {bs} orders per request: \
         `POST /orders/batch` (207, one result per order) next to the bridge's \
         `POST /topics/orders` with {bs} records; an order counts once its \
         result or offset says stored.\n\
         4. Peak RSS: the kernel's `VmHWM` of each server at the end of steps \
         1 to 3, 1,024 connections included; producer-service's also at the \
         end of its 256-connection run, for its own 40 MiB target.\n\
         5. Idle connections: a fresh producer-service (`MAX_CONNECTIONS` \
         above the largest count, idle connections never timed out); \
         connections opened one after another, each making one request \
         (a `GET` answered 404) and then staying open; its `VmRSS` read at \
         each count.\n\
         6. Consume: {n} orders prefilled into a 6-partition topic; `loadgen \
         drain` (a plain consumer that reads and drops) next to \
         consumer-service draining the same topic in a new group while \
         logging every order as JSON to a file, then the consumer floor \
         (below) in a group of its own, on the single broker. Then, \
         on a three-node cluster (replication factor 3, `min.insync.replicas=2`), \
         1, 2 and 3 consumer-service instances in one new group each drain \
         {m} prefilled orders. Rates run from the first record processed \
         after the group settled (the last `partitions assigned` line of any \
         instance) to the last, so connecting, the group join and the \
         rebalances while instances join are left out; the plain consumer's \
         from its first record to its last.\n\n\
         ## Settings\n\n\
         - Apache Kafka from `scripts/local-broker.sh`'s jars, started by the \
         benchmark; the topic `orders` has 6 partitions.\n\
         - producer-service and the raw client: `acks=all`, \
         `enable.idempotence=true`, `max.in.flight.requests.per.connection=1`, \
         `message.timeout.ms=10000` (`DELIVERY_TIMEOUT_MS`), \
         `reconnect.backoff.max.ms=1000`, `queue.buffering.max.messages` twice \
         the orders `MAX_IN_FLIGHT_ORDERS` and `MAX_IN_FLIGHT_BATCHES` can \
         carry, `linger.ms=1`, librdkafka's defaults otherwise \
         (`batch.num.messages=10000`).\n\
         - The bridge (`scripts/strimzi-bridge.sh`): its own defaults and \
         Kafka's producer defaults, except `kafka.producer.acks=all` and \
         `kafka.producer.enable.idempotence=true`, set explicitly (its sample \
         configuration sets `acks=1`, which turns idempotence off). Its JVM \
         gets `-XX:ActiveProcessorCount` equal to this machine's cores, \
         the cores our service's runtime sees, and its default heap.\n\
         - Consumers: librdkafka's defaults, except the prefetch queue: \
         `queued.max.messages.kbytes=65536` for the plain consumer, 2048 for \
         consumer-service (with `fetch.queue.backoff.ms=10`); the instances of the three-node runs heartbeat every 100 ms (`heartbeat.interval.ms`, 3 s by default), so that one starting a moment late joins the group before the others drained the topic. Unless \
         `fetch.max.bytes` is set, librdkafka lowers it (50 MiB by default) \
         to the queue's size, so consumer-service fetches at most 2 MiB a \
         request and the plain consumer 50 MiB.\n\
         - The floors (`bench/src/bin/`), the least code that does each \
         service's job with its guarantees, and the reference each service is \
         judged against: the producer floor is an axum handler that parses \
         the order with serde, checks three fields and answers 201 with the \
         partition and offset once librdkafka acknowledged it, with \
         producer-service's producer settings and no middleware, metrics, \
         logs, tracing or limits; the consumer floor decodes each record with \
         serde, writes one JSON line per order to a buffered standard output \
         and stores its offset, with consumer-service's commit and fetch \
         settings.\n\
         - Our services: release builds (`scripts/build-release.sh`), JSON \
         logs to a file, one INFO line per order; the bridge logs at WARN.\n\n\
         {profiled}",
        machine = machine(),
        profiled = include_str!("profiled.md"),
    )
}
