//! What the tests and the benchmark share: a fresh in-process Kafka
//! (librdkafka's mock cluster) per test, and blocking functions that write
//! records and read topics back without going through the code under test;
//! test orders ([`order`], [`publish_order`], [`publish_orders`], [`processed`]); the binaries
//! as child processes ([`ServiceProcess`]); Apache Kafka ([`kafka`], started
//! by `local-kafka`); and the load
//! and ledger of the fault suite ([`load`], [`Ledger`]).
//!
//! The functions take the bootstrap address rather than the cluster, which
//! is not `Send`, so tests can run them on a blocking thread. Every test gets
//! its own cluster, so tests never share topics or groups.

pub mod kafka;
mod ledger;
pub mod load;
mod orders;
mod process;
mod prometheus;

pub use ledger::{Answered, Ledger, Placement, Report};
pub use orders::{order, processed, publish_order, publish_orders};
pub use process::{SHUTDOWN_BOUND, ServiceProcess};
pub use prometheus::Exposition;

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Message, OwnedHeaders, OwnedMessage};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

/// Partitions of the orders topic in every test cluster.
pub const ORDERS_PARTITIONS: i32 = 3;

/// A mock cluster of one broker (id 1) with the `orders` and `orders.dlq` topics.
pub struct MockKafka {
    /// The cluster, for fault injection (`broker_down`, round-trip times).
    pub cluster: MockCluster<'static, DefaultProducerContext>,
    /// Its `bootstrap.servers`.
    pub bootstrap: String,
}

impl MockKafka {
    /// Starts a cluster and creates the topics.
    ///
    /// # Panics
    /// If librdkafka cannot start the cluster.
    pub fn start() -> Self {
        let cluster = MockCluster::new(1).expect("mock cluster starts");
        cluster
            .create_topic("orders", ORDERS_PARTITIONS, 1)
            .expect("orders topic created");
        cluster
            .create_topic("orders.dlq", 1, 1)
            .expect("dlq topic created");
        let bootstrap = cluster.bootstrap_servers();
        Self { cluster, bootstrap }
    }
}

/// Writes one record and waits for the broker's acknowledgement.
///
/// # Panics
/// If the record is not acknowledged within ten seconds.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    key: Option<&[u8]>,
    payload: &[u8],
    headers: OwnedHeaders,
) {
    produce_all(bootstrap, topic, [(key, payload, headers)]);
}

/// Writes `records` (key, payload, headers) through one producer and
/// waits for every acknowledgement.
///
/// # Panics
/// If a record is not acknowledged within ten seconds.
pub fn produce_all<'a>(
    bootstrap: &str,
    topic: &str,
    records: impl IntoIterator<Item = (Option<&'a [u8]>, &'a [u8], OwnedHeaders)>,
) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "10000")
        .create()
        .expect("test producer created");
    for (key, payload, headers) in records {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .payload(payload)
            .headers(headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        producer
            .send(record)
            .map_err(|(e, _)| e)
            .expect("record queued");
    }
    producer
        .flush(Duration::from_secs(10))
        .expect("records acknowledged");
}

/// Reads `topic` from the beginning of every partition until `count`
/// records arrived or `timeout` passed, and returns what arrived.
pub fn read(bootstrap: &str, topic: &str, count: usize, timeout: Duration) -> Vec<OwnedMessage> {
    let consumer = assigned_reader(bootstrap, topic);
    let deadline = Instant::now() + timeout;
    let mut messages = Vec::new();
    while messages.len() < count && Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            messages.push(message.detach());
        }
    }
    messages
}

/// Reads every record of `topic`: as many as its watermarks count.
///
/// # Panics
/// If they do not all arrive within a minute.
pub fn read_all(bootstrap: &str, topic: &str) -> Vec<OwnedMessage> {
    let total = usize::try_from(count(bootstrap, topic)).expect("record count");
    let records = read(bootstrap, topic, total, Duration::from_secs(60));
    assert_eq!(records.len(), total, "every record of {topic} can be read");
    records
}

/// The number of records in `topic`, from the partitions' watermarks.
///
/// # Panics
/// If the watermarks cannot be fetched within 30 seconds.
pub fn count(bootstrap: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("test consumer created");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("topic metadata");
    metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| {
            let (low, high) = watermarks(&consumer, topic, p.id());
            high - low
        })
        .sum()
}

/// A partition's low and high watermarks, asked again while its leader
/// cannot answer yet: just after a failover the new leader refuses with
/// `OffsetNotAvailable` until its high watermark has caught up.
fn watermarks(consumer: &BaseConsumer, topic: &str, partition: i32) -> (i64, i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match consumer.fetch_watermarks(topic, partition, Duration::from_secs(10)) {
            Ok(watermarks) => return watermarks,
            Err(error) if Instant::now() < deadline => {
                eprintln!("watermarks of {topic}/{partition} not yet known, asking again: {error}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(error) => panic!("watermarks of {topic}/{partition}: {error}"),
        }
    }
}

/// A consumer assigned every partition of `topic` from the beginning, outside any group.
fn assigned_reader(bootstrap: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "test-support-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("test consumer created");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("topic metadata");
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .expect("partition added");
    }
    consumer.assign(&assignment).expect("partitions assigned");
    consumer
}

/// The value of header `name` on `message`, as text.
pub fn header(message: &OwnedMessage, name: &str) -> Option<String> {
    use rdkafka::message::Headers;
    message
        .headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    listener.local_addr().expect("address").port()
}

/// The path in environment variable `var`, or `default()`; panics with a
/// hint if no file is there.
///
/// # Panics
/// If the file does not exist.
pub fn binary(var: &str, default: impl FnOnce() -> std::path::PathBuf) -> std::path::PathBuf {
    let path = std::env::var_os(var).map_or_else(default, std::path::PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found (set {var}, or run scripts/e2e.sh, which builds it)",
        path.display()
    );
    path
}
