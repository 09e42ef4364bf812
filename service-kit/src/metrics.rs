//! Prometheus metrics for both services: the process-wide recorder, the
//! `GET /metrics` route, and librdkafka's statistics turned into gauges.
//! The services record their own metrics with the `metrics` macros; the
//! docs/observability.md lists every name.

use std::sync::OnceLock;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Router, http::header};
use metrics::gauge;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rdkafka::Statistics;

/// How often librdkafka reports its statistics, in milliseconds. Set as
/// `statistics.interval.ms` only on clients whose context records them
/// ([`crate::ServiceContext`]): the default context logs every report at INFO.
pub const STATISTICS_INTERVAL_MS: &str = "5000";

/// Buckets of every `*_seconds` histogram: half a millisecond up to the
/// longest delivery timeout anyone should configure.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide recorder, installed on first use. There is one per
/// process because the `metrics` macros write to a global; tests that start
/// several services in one process share it.
///
/// # Panics
/// If another `metrics` recorder was installed first (a programming error).
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
            .expect("the bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        describe();
        // Histogram samples pile up until upkeep folds them into buckets:
        // at the consumer's 200,000 records a second, every second of
        // samples is 1.5 MiB, so upkeep runs every second, scraper or not.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                    upkeep.run_upkeep();
                }
            })
            .expect("a thread can be started at start-up");
        handle
    })
}

/// `GET /metrics`: every metric in the Prometheus text format.
pub fn routes() -> Router {
    let handle = recorder();
    Router::new().route(
        "/metrics",
        get(move || async move {
            (
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                handle.render(),
            )
                .into_response()
        }),
    )
}

/// Turns one librdkafka statistics report into gauges: broker round-trip
/// time, producer queue depth and consumer lag per partition.
pub fn record_statistics(statistics: &Statistics) {
    let client = statistics.client_type.clone();
    for broker in statistics.brokers.values() {
        // Bootstrap and coordinator entries (node id -1) duplicate a real broker.
        if broker.nodeid < 0 {
            continue;
        }
        if let Some(rtt) = &broker.rtt {
            // librdkafka reports microseconds; 0 means no request in the window.
            gauge!("kafka_broker_rtt_seconds", "client" => client.clone(), "broker" => broker.nodename.clone())
                .set(rtt.avg as f64 / 1e6);
        }
    }
    match client.as_str() {
        "producer" => gauge!("kafka_producer_queue_messages").set(statistics.msg_cnt as f64),
        "consumer" => {
            for (topic, stats) in &statistics.topics {
                // Partition -1 is librdkafka's internal unassigned queue. A
                // partition this instance does not own reports -1: shown as
                // 0, so summing over instances gives the group's lag.
                for partition in stats.partitions.values().filter(|p| p.partition >= 0) {
                    gauge!("kafka_consumer_lag", "topic" => topic.clone(), "partition" => partition.partition.to_string())
                        .set(partition.consumer_lag.max(0) as f64);
                }
            }
        }
        _ => {}
    }
}

/// HELP lines for the shared metrics.
fn describe() {
    metrics::describe_gauge!(
        "kafka_broker_rtt_seconds",
        metrics::Unit::Seconds,
        "Mean broker round-trip time over librdkafka's last statistics window, by client type and broker."
    );
    metrics::describe_gauge!(
        "kafka_producer_queue_messages",
        "Messages in librdkafka's producer queue, waiting to be sent or acknowledged."
    );
    metrics::describe_gauge!(
        "kafka_consumer_lag",
        "Records between this instance's position and the partition's end, by topic and partition (0 where another instance owns it)."
    );
    metrics::describe_counter!(
        "log_lines_dropped_total",
        "Log lines dropped because standard output did not take them (a blocked log sink); the service went on serving."
    );
    // At 0 from the start, so that an alert on its rate sees it.
    metrics::counter!("log_lines_dropped_total").increment(0);
}
