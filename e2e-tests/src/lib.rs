//! The end-to-end harness: Apache Kafka and the release binaries of both
//! services, each a separate process on free loopback ports (the tracing
//! test uses librdkafka's mock cluster instead).
//!
//! `scripts/e2e.sh` builds the binaries, fetches Kafka once and runs the
//! suite; the paths can be overridden with `KAFKA_HOME`, `PRODUCER_BIN` and
//! `CONSUMER_BIN`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use test_support::load::Outcome;
use test_support::{Ledger, Placement, ServiceProcess, processed};

use test_support::binary;
pub use test_support::kafka::{Broker, ORDERS_PARTITIONS};

/// The consumer group of the suite, as in docker-compose.yml.
pub const GROUP: &str = "orders-consumer";

/// How long to wait at most for a consumer group to settle: a first
/// assignment takes a few seconds (the session timeout, when a member left
/// without a goodbye); the bound leaves room for a busy machine.
pub const GROUP_WAIT: Duration = Duration::from_secs(60);

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
    let (mut process, url) = spawn_producer(bootstrap, env);
    process.wait_for_message("reached Kafka; ready");
    (process, url)
}

/// Starts producer-service and waits until it listens, not until it is ready.
///
/// # Panics
/// If it does not listen within 30 seconds.
pub fn spawn_producer(bootstrap: &str, env: &[(&str, &str)]) -> (ServiceProcess, String) {
    let bin = binary("PRODUCER_BIN", || release_binary("producer-service"));
    let mut all = vec![
        ("KAFKA_BROKERS", bootstrap),
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("MANAGEMENT_ADDR", "127.0.0.1:0"),
    ];
    all.extend_from_slice(env);
    let mut process = ServiceProcess::spawn(bin, &[], &all);
    let listening = process.wait_for_message("producer-service listening");
    let url = format!(
        "http://{}",
        listening["addr"].as_str().expect("addr logged")
    );
    (process, url)
}

/// Offsets are committed this often in the suite (milliseconds).
pub const COMMIT_INTERVAL_MS: u64 = 500;

/// Starts consumer-service in `group` against `broker`; does not wait for an assignment.
pub fn start_consumer(broker: &Broker, group: &str) -> ServiceProcess {
    start_consumer_with(&broker.bootstrap, group, &[])
}

/// [`start_consumer`] against any bootstrap address, with extra environment
/// variables.
pub fn start_consumer_with(bootstrap: &str, group: &str, env: &[(&str, &str)]) -> ServiceProcess {
    let bin = binary("CONSUMER_BIN", || release_binary("consumer-service"));
    let interval = COMMIT_INTERVAL_MS.to_string();
    let mut all = vec![
        ("KAFKA_BROKERS", bootstrap),
        ("MANAGEMENT_ADDR", "127.0.0.1:0"),
        ("CONSUMER_GROUP", group),
        ("COMMIT_INTERVAL_MS", &interval),
    ];
    all.extend_from_slice(env);
    ServiceProcess::spawn(bin, &[], &all)
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

fn release_binary(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/release")
        .join(name)
}

/// `GET url`: the status and the body.
///
/// # Panics
/// If there is no answer.
pub fn get(url: &str) -> (u16, String) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let answer = reqwest::get(url).await.expect("an answer");
        let status = answer.status().as_u16();
        (status, answer.text().await.expect("a body"))
    })
}

/// Publishes `count` valid orders straight to the `orders` topic, as
/// producer-service would, their customers named `prefix-N`; returns their
/// ids.
///
/// # Panics
/// If any is not acknowledged within ten seconds.
pub fn publish(broker: &Broker, prefix: &str, count: usize) -> BTreeSet<String> {
    let orders: Vec<_> = (0..count)
        .map(|n| test_support::order(&format!("{prefix}-{n}")))
        .collect();
    test_support::publish_orders(&broker.bootstrap, &orders);
    orders.iter().map(|o| o.order_id.to_string()).collect()
}
