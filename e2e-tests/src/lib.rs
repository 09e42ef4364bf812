//! The end-to-end harness: tansu (a Kafka-protocol broker that is not
//! librdkafka's own) and the release binaries of both services, each a
//! separate process on free loopback ports.
//!
//! `scripts/e2e.sh` builds the binaries, installs tansu and runs the suite;
//! the paths can be overridden with `TANSU_BIN`, `PRODUCER_BIN` and
//! `CONSUMER_BIN`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::Value;
use test_support::load::Outcome;
use test_support::{Ledger, Placement, ServiceProcess};

/// Partitions of the orders topic, as in docker-compose.yml.
pub const ORDERS_PARTITIONS: i32 = 6;

/// How long to wait for a consumer group to settle on tansu, which takes
/// 3 to 25 seconds for a first assignment.
pub const GROUP_WAIT: Duration = Duration::from_secs(90);

/// A tansu broker, killed when dropped.
pub struct Broker {
    process: ServiceProcess,
    dir: PathBuf,
    tansu: PathBuf,
    port: u16,
    storage: String,
    /// `host:port` for `KAFKA_BROKERS`.
    pub bootstrap: String,
}

impl Broker {
    /// Starts tansu on a free port, waits until it answers metadata requests,
    /// and creates `orders` (6 partitions) and `orders.dlq`.
    ///
    /// # Panics
    /// If tansu is missing or does not come up within 30 seconds.
    pub fn start() -> Self {
        Self::start_in(Path::new("."), "memory://tansu/")
    }

    /// Like [`Broker::start`] with tansu's working directory `dir` and
    /// `storage` as its storage engine, e.g. `sqlite://tansu.db` (a path
    /// relative to `dir`), which keeps every acknowledged record across a
    /// SIGKILL.
    ///
    /// # Panics
    /// As [`Broker::start`].
    pub fn start_in(dir: &Path, storage: &str) -> Self {
        let tansu = binary("TANSU_BIN", || {
            let cache = std::env::var_os("TANSU_CACHE").map_or_else(
                || home().join(".cache/orders-pipeline/tansu"),
                PathBuf::from,
            );
            cache.join("bin/tansu")
        });
        let port = free_port();
        let process = spawn_tansu(dir, &tansu, port, storage);
        let broker = Self {
            process,
            dir: dir.to_owned(),
            tansu,
            port,
            storage: storage.to_owned(),
            bootstrap: format!("127.0.0.1:{port}"),
        };
        broker.wait_until_up();
        broker.create_topic("orders", ORDERS_PARTITIONS);
        broker.create_topic("orders.dlq", 1);
        broker
    }

    /// Kills the broker with SIGKILL, as a crash would.
    pub fn crash(&mut self) {
        self.process.crash();
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        self.process = spawn_tansu(&self.dir, &self.tansu, self.port, &self.storage);
        self.wait_until_up();
    }

    fn wait_until_up(&self) {
        let consumer = self.client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while consumer
            .fetch_metadata(None, Duration::from_secs(1))
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "tansu did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn create_topic(&self, name: &str, partitions: i32) {
        let status = Command::new(&self.tansu)
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &format!("tcp://{}", self.bootstrap)])
            .status()
            .expect("tansu topic create runs");
        assert!(status.success(), "cannot create topic {name}");
    }

    /// A plain client for checks that bypass the services.
    pub fn client(&self) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .expect("client created")
    }

    /// The number of records in `topic`, from the partitions' high watermarks.
    ///
    /// Good for telling empty from not empty only: tansu 0.6 reports high
    /// watermarks below the true end when a partition's last produce request
    /// carried a batch of several records (measured: 38 for 40 records), so
    /// [`Broker::end_offsets`] reads the records instead.
    pub fn watermark_count(&self, topic: &str) -> i64 {
        let client = self.client();
        (0..self.partitions(topic))
            .map(|p| {
                let (low, high) = client
                    .fetch_watermarks(topic, p, Duration::from_secs(10))
                    .expect("watermarks");
                high - low
            })
            .sum()
    }

    /// The end offset of each partition of `topic` that holds records, found
    /// by reading all `count` records the test wrote.
    ///
    /// # Panics
    /// If fewer than `count` records can be read.
    pub fn end_offsets(&self, topic: &str, count: usize) -> HashMap<i32, i64> {
        let records = self.read(topic, count);
        assert_eq!(records.len(), count, "every record of {topic} can be read");
        let mut ends = HashMap::new();
        for record in records {
            let end = ends.entry(record.partition()).or_insert(0);
            *end = (*end).max(record.offset() + 1);
        }
        ends
    }

    /// The offsets `group` committed on `topic`, by partition.
    pub fn committed_offsets(&self, group: &str, topic: &str) -> HashMap<i32, i64> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", group)
            .create()
            .expect("client created");
        let mut partitions = TopicPartitionList::new();
        for p in 0..self.partitions(topic) {
            partitions.add_partition(topic, p);
        }
        let committed = client
            .committed_offsets(partitions, Duration::from_secs(10))
            .expect("committed offsets");
        committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) => Some((e.partition(), offset)),
                _ => None,
            })
            .collect()
    }

    fn partitions(&self, topic: &str) -> i32 {
        let metadata = self
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        i32::try_from(metadata.topics()[0].partitions().len()).expect("partition count")
    }

    /// Reads every record of `topic` (up to `count`).
    pub fn read(&self, topic: &str, count: usize) -> Vec<rdkafka::message::OwnedMessage> {
        test_support::read(&self.bootstrap, topic, count, Duration::from_secs(30))
    }
}

/// Starts producer-service against `broker` and waits until it is ready;
/// returns the process and its base URL.
///
/// # Panics
/// If it does not become ready within 30 seconds.
pub fn start_producer(broker: &Broker) -> (ServiceProcess, String) {
    start_producer_with(&broker.bootstrap, &[])
}

/// [`start_producer`] against any bootstrap address, with extra environment
/// variables.
///
/// # Panics
/// As [`start_producer`].
pub fn start_producer_with(bootstrap: &str, env: &[(&str, &str)]) -> (ServiceProcess, String) {
    let bin = binary("PRODUCER_BIN", || release_binary("producer-service"));
    let mut all = vec![("KAFKA_BROKERS", bootstrap), ("HTTP_ADDR", "127.0.0.1:0")];
    all.extend_from_slice(env);
    let mut process = ServiceProcess::spawn(bin, &[], &all);
    let listening = process.wait_for_message("producer-service listening");
    let url = format!(
        "http://{}",
        listening["addr"].as_str().expect("addr logged")
    );
    process.wait_for_message("reached Kafka; ready");
    (process, url)
}

/// Offsets are committed this often in the suite (milliseconds).
pub const COMMIT_INTERVAL_MS: u64 = 500;

/// Starts consumer-service in `group` against `broker`; does not wait for an assignment.
pub fn start_consumer(broker: &Broker, group: &str) -> ServiceProcess {
    let bin = binary("CONSUMER_BIN", || release_binary("consumer-service"));
    let interval = COMMIT_INTERVAL_MS.to_string();
    ServiceProcess::spawn(
        bin,
        &[],
        &[
            ("KAFKA_BROKERS", &broker.bootstrap),
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("CONSUMER_GROUP", group),
            ("COMMIT_INTERVAL_MS", &interval),
        ],
    )
}

/// Adds every "order processed" line of `consumer` to `ledger`, in log order.
pub fn record_processed(consumer: &mut ServiceProcess, ledger: &mut Ledger) {
    for line in consumer.logged("order processed") {
        let (Some(id), Some(partition), Some(offset)) = (
            line["order_id"].as_str(),
            line["partition"].as_i64(),
            line["offset"].as_i64(),
        ) else {
            panic!("malformed order line: {line}");
        };
        let partition = i32::try_from(partition).expect("partition fits");
        ledger.seen(id, Placement { partition, offset });
    }
}

/// The partitions a consumer holds according to its last assignment log line.
pub fn assignment(consumer: &mut ServiceProcess) -> BTreeSet<String> {
    let mut current = BTreeSet::new();
    for line in consumer.lines() {
        match line["message"].as_str() {
            Some("partitions assigned") => {
                current = line["partitions"]
                    .as_str()
                    .unwrap_or_default()
                    .split(',')
                    .filter(|p| *p != "none")
                    .map(str::to_owned)
                    .collect();
            }
            Some("partitions revoked") => current.clear(),
            _ => {}
        }
    }
    current
}

/// How many "order processed" lines each order id has in `consumer`'s log.
pub fn processed(consumer: &mut ServiceProcess) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in consumer.logged("order processed") {
        if let Some(id) = line["order_id"].as_str() {
            *counts.entry(id.to_owned()).or_default() += 1;
        }
    }
    counts
}

/// Waits until the consumers together logged every id in `ids`.
///
/// # Panics
/// If they have not within `timeout`.
pub fn wait_processed(
    consumers: &mut [&mut ServiceProcess],
    ids: &BTreeSet<String>,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let seen: BTreeSet<String> = consumers
            .iter_mut()
            .flat_map(|c| processed(c).into_keys())
            .collect();
        let missing = ids.difference(&seen).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} orders not processed within {timeout:?}",
            ids.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Closed-loop load on a background thread, for tests that break things
/// while it runs.
pub struct Load {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Outcome>>,
}

impl Load {
    /// Starts `workers` clients posting to `{url}/orders`.
    pub fn start(url: &str, workers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (orders, flag) = (format!("{url}/orders"), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(test_support::load::run_until(&orders, workers, flag))
        });
        Self { stop, thread }
    }

    /// Stops the clients and returns every outcome.
    pub fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("load thread")
    }
}

/// One HTTP answer: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `content-type` header.
    pub content_type: String,
    /// Body, parsed as JSON (`Null` if it is not).
    pub body: Value,
}

/// POSTs each body to `{url}/orders` with `content_type`, at most
/// `concurrency` at a time, and returns the answers in order.
pub fn post_all(
    url: &str,
    content_type: &str,
    bodies: Vec<String>,
    concurrency: usize,
) -> Vec<Answer> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        futures::stream::iter(bodies)
            .map(|body| {
                let request = client
                    .post(format!("{url}/orders"))
                    .header("content-type", content_type)
                    .body(body)
                    .send();
                async move {
                    let response = request.await.expect("request answered");
                    let status = response.status().as_u16();
                    let content_type = response
                        .headers()
                        .get("content-type")
                        .map(|v| v.to_str().unwrap_or_default().to_owned())
                        .unwrap_or_default();
                    let body = response.json().await.unwrap_or(Value::Null);
                    Answer {
                        status,
                        content_type,
                        body,
                    }
                }
            })
            .buffered(concurrency)
            .collect()
            .await
    })
}

/// A valid order body for customer `n`.
pub fn order_body(n: usize) -> String {
    serde_json::json!({
        "customer_id": format!("cust-{n}"),
        "currency": "EUR",
        "items": [{"sku": "BOOK-1", "quantity": 1 + n % 5, "unit_price_cents": 1299}]
    })
    .to_string()
}

fn spawn_tansu(dir: &Path, tansu: &Path, port: u16, storage: &str) -> ServiceProcess {
    let url = format!("tcp://127.0.0.1:{port}");
    ServiceProcess::spawn_in(
        dir,
        tansu,
        &[
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            storage,
        ],
        &[("RUST_LOG", "warn")],
    )
}

fn binary(var: &str, default: impl FnOnce() -> PathBuf) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(default, PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found (set {var}, or run scripts/e2e.sh, which builds and installs it)",
        path.display()
    );
    path
}

fn release_binary(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/release")
        .join(name)
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    listener.local_addr().expect("address").port()
}
