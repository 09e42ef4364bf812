//! What the benchmark measured, and how long and how much it runs: the
//! figures the tables and the charts are made from.

use std::time::Duration;

use loadgen::stats::Summary;

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
            // The scaling rate is measured after the last rebalance and
            // needs half the orders left by then, after three instances
            // joined one by one and the group rebalanced for each.
            scaling_count: 200_000,
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
    /// Its floor, at the counts the ratio needs.
    pub floor: Option<PublishRun>,
    /// The bridge, one record per request (none with `--no-bridge`).
    pub bridge: Option<PublishRun>,
}

/// Both HTTP servers at one open-loop rate.
pub struct Latency {
    /// Orders per second offered to each.
    pub rate: f64,
    /// producer-service's latency summary and skipped orders.
    pub ours: (Summary, u64),
    /// Its floor's.
    pub floor: Option<(Summary, u64)>,
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
    /// The consumer floor's orders/s on the same topic.
    pub consume_floor: Option<f64>,
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
