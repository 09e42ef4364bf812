//! Black-box tests of the consumer: the real binary as a child process with
//! JSON logs, against an in-process mock Kafka cluster (one per test).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use order_contract::{LineItem, Order, headers};
use rdkafka::Message;
use rdkafka::message::{Header, OwnedHeaders};
use serde_json::Value;
use test_support::{MockKafka, header};
use uuid::Uuid;

/// A running consumer-service whose JSON log lines are collected.
struct ConsumerProcess {
    child: Child,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl ConsumerProcess {
    fn start(kafka: &MockKafka) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_consumer-service"))
            .env_clear()
            .env("KAFKA_BROKERS", &kafka.bootstrap)
            .env("HTTP_ADDR", "127.0.0.1:0")
            .env("LOG_FORMAT", "json")
            .env("COMMIT_INTERVAL_MS", "200")
            // The mock coordinator waits almost a session timeout before it
            // rebalances a group whose last member left; keep that short.
            .env(
                "KAFKA_PROPERTIES",
                "session.timeout.ms=3000;heartbeat.interval.ms=500",
            )
            .stdout(Stdio::piped())
            .spawn()
            .expect("consumer-service starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until a log line satisfies `matches` and returns it.
    fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(found) = self.seen.iter().find(|line| matches(line)) {
            return found.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no log line {what} within 30 s; saw:\n{:#?}", self.seen);
    }

    fn wait_for_message(&mut self, message: &str) -> Value {
        self.wait_for(message, |line| line["message"] == message)
    }

    /// How many "order processed" lines each order id has so far.
    fn processed(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for line in &self.seen {
            if line["message"] == "order processed" {
                *counts
                    .entry(line["order_id"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        counts
    }

    /// Sends SIGTERM, waits for the exit and collects the remaining lines.
    fn terminate(&mut self) -> ExitStatus {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        kill(pid, Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "consumer did not exit within 10 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader thread ends with the pipe; collect all it read.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
            self.seen.push(line);
        }
        status
    }

    fn logged(&self, message: &str) -> bool {
        self.seen.iter().any(|line| line["message"] == message)
    }
}

impl Drop for ConsumerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn order(customer: &str) -> Order {
    Order {
        order_id: Uuid::now_v7(),
        customer_id: customer.to_owned(),
        currency: "EUR".to_owned(),
        items: vec![LineItem {
            sku: "BOOK-1".to_owned(),
            quantity: 3,
            unit_price_cents: 1000,
        }],
        total_cents: 3000,
        created_at: time::OffsetDateTime::now_utc(),
    }
}

fn publish(kafka: &MockKafka, order: &Order) {
    let key = order.order_id.to_string();
    test_support::produce(
        &kafka.bootstrap,
        "orders",
        Some(key.as_bytes()),
        &order.encode(),
        OwnedHeaders::new(),
    );
}

#[test]
fn every_order_is_logged_once_and_a_restart_processes_nothing_twice() {
    let kafka = MockKafka::start();
    let first: Vec<Order> = (0..20).map(|i| order(&format!("cust-{i}"))).collect();
    for order in &first {
        publish(&kafka, order);
    }

    let mut consumer = ConsumerProcess::start(&kafka);
    for order in &first {
        let id = order.order_id.to_string();
        let line = consumer.wait_for(&format!("for order {id}"), |l| l["order_id"] == id.as_str());
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "order processed");
        assert_eq!(line["customer_id"], order.customer_id.as_str());
        assert_eq!(line["items"], 1);
        assert_eq!(line["total_cents"], 3000);
        assert_eq!(line["currency"], "EUR");
        assert!(line["partition"].is_i64() && line["offset"].is_i64());
    }
    let status = consumer.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(consumer.logged("consumer-service stopped; bye"));

    // A second run of the same group starts after the committed offsets.
    let second = order("cust-late");
    publish(&kafka, &second);
    let mut consumer = ConsumerProcess::start(&kafka);
    let id = second.order_id.to_string();
    consumer.wait_for("for the late order", |l| l["order_id"] == id.as_str());
    assert!(consumer.terminate().success());
    let processed = consumer.processed();
    assert_eq!(
        processed.len(),
        1,
        "only the new order is processed: {processed:?}"
    );
}

#[test]
fn each_order_is_processed_exactly_once_in_one_run() {
    let kafka = MockKafka::start();
    let orders: Vec<Order> = (0..50).map(|i| order(&format!("c{i}"))).collect();
    let mut consumer = ConsumerProcess::start(&kafka);
    consumer.wait_for_message("partitions assigned");
    for order in &orders {
        publish(&kafka, order);
    }
    let last = orders.last().unwrap().order_id.to_string();
    consumer.wait_for("for the last order", |l| l["order_id"] == last.as_str());
    assert!(consumer.terminate().success());
    let counts = consumer.processed();
    for order in &orders {
        assert_eq!(
            counts.get(&order.order_id.to_string()),
            Some(&1),
            "{}",
            order.order_id
        );
    }
    assert_eq!(counts.len(), orders.len());
}

#[test]
fn a_poison_record_is_dead_lettered_and_the_next_order_is_still_processed() {
    let kafka = MockKafka::start();
    let poison = b"{\"order_id\": \"truncated";
    let original_headers = OwnedHeaders::new().insert(Header {
        key: "trace",
        value: Some("abc"),
    });
    test_support::produce(
        &kafka.bootstrap,
        "orders",
        Some(b"bad-key"),
        poison,
        original_headers,
    );
    let mut invalid = order("cust-1");
    invalid.currency = "euro".to_owned();
    publish(&kafka, &invalid);
    let valid = order("cust-2");
    publish(&kafka, &valid);

    let mut consumer = ConsumerProcess::start(&kafka);
    let id = valid.order_id.to_string();
    consumer.wait_for("for the valid order", |l| l["order_id"] == id.as_str());
    let warning = consumer.wait_for_message("poison record; dead-lettering it");
    assert_eq!(warning["level"], "WARN");
    assert!(warning["reason"].as_str().unwrap().contains("malformed"));
    assert!(warning["partition"].is_i64() && warning["offset"].is_i64());

    let dead = test_support::read(&kafka.bootstrap, "orders.dlq", 2, Duration::from_secs(10));
    assert_eq!(
        dead.len(),
        2,
        "both poison records are in the dead-letter topic"
    );
    let by_key: HashMap<_, _> = dead
        .iter()
        .map(|m| (m.key().unwrap().to_vec(), m))
        .collect();

    let truncated = by_key[&b"bad-key".to_vec()];
    assert_eq!(truncated.payload(), Some(&poison[..]));
    assert_eq!(
        header(truncated, "trace").as_deref(),
        Some("abc"),
        "original headers kept"
    );
    assert!(
        header(truncated, headers::DLQ_REASON)
            .unwrap()
            .contains("malformed order JSON")
    );
    assert_eq!(
        header(truncated, headers::DLQ_SOURCE_TOPIC).as_deref(),
        Some("orders")
    );
    assert!(header(truncated, headers::DLQ_SOURCE_PARTITION).is_some());
    assert!(header(truncated, headers::DLQ_SOURCE_OFFSET).is_some());

    let invalid_record = by_key[invalid.order_id.to_string().as_bytes()];
    assert!(
        header(invalid_record, headers::DLQ_REASON)
            .unwrap()
            .contains("currency")
    );

    assert!(consumer.terminate().success());
}

#[test]
fn the_consumer_reports_ready_once_it_has_joined_the_group() {
    let kafka = MockKafka::start();
    let mut consumer = ConsumerProcess::start(&kafka);
    let listening = consumer.wait_for_message("consumer-service health listener up");
    let addr = listening["addr"].as_str().unwrap().to_owned();
    let get = |path: &str| {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    assert!(get("/livez").starts_with("HTTP/1.1 200"));
    consumer.wait_for_message("partitions assigned");
    assert!(get("/readyz").starts_with("HTTP/1.1 200"));
    assert!(consumer.terminate().success());
}
