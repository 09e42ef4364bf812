//! Black-box tests of the consumer: the real binary as a child process with
//! JSON logs, against an in-process mock Kafka cluster (one per test).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::Duration;

use order_contract::{Order, headers};
use rdkafka::Message;
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use serde_json::Value;
use test_support::{MockKafka, ServiceProcess, header, order, processed, publish_order};

const WAIT: Duration = Duration::from_secs(30);

fn start_consumer(kafka: &MockKafka) -> ServiceProcess {
    common::start_consumer(kafka, "", &[])
}

fn wait_for_order(consumer: &mut ServiceProcess, order: &Order) -> Value {
    let id = order.order_id.to_string();
    consumer.wait_for(&format!("for order {id}"), WAIT, |l| {
        l["order_id"] == id.as_str()
    })
}

#[test]
fn every_order_is_logged_once_and_a_restart_processes_nothing_twice() {
    let kafka = MockKafka::start();
    let first: Vec<Order> = (0..20).map(|i| order(&format!("cust-{i}"))).collect();
    for order in &first {
        publish_order(&kafka.bootstrap, order);
    }

    let mut consumer = start_consumer(&kafka);
    for order in &first {
        let line = wait_for_order(&mut consumer, order);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "order processed");
        assert_eq!(line["customer_id"], order.customer_id.as_str());
        assert_eq!(line["items"], 1);
        assert_eq!(line["total_cents"], 3000);
        assert_eq!(line["currency"], "EUR");
        assert!(line["partition"].is_i64() && line["offset"].is_i64());
    }
    consumer.stop();
    assert_eq!(consumer.logged("consumer-service stopped; bye").len(), 1);

    // A second run of the same group starts after the committed offsets.
    let late = order("cust-late");
    publish_order(&kafka.bootstrap, &late);
    let mut consumer = start_consumer(&kafka);
    wait_for_order(&mut consumer, &late);
    consumer.stop();
    let processed = processed(&mut consumer);
    assert_eq!(
        processed.len(),
        1,
        "only the new order is processed: {processed:?}"
    );
}

#[test]
fn orders_published_while_the_consumer_runs_are_each_processed_exactly_once() {
    let kafka = MockKafka::start();
    let orders: Vec<Order> = (0..50).map(|i| order(&format!("c{i}"))).collect();
    let mut consumer = start_consumer(&kafka);
    consumer.wait_for_message("partitions assigned");
    for order in &orders {
        publish_order(&kafka.bootstrap, order);
    }
    // Partitions are consumed independently: the last order may be logged
    // before an earlier one on a slower partition, so wait for each.
    for order in &orders {
        wait_for_order(&mut consumer, order);
    }
    consumer.stop();

    let counts = processed(&mut consumer);
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
    publish_order(&kafka.bootstrap, &invalid);
    let valid = order("cust-2");
    publish_order(&kafka.bootstrap, &valid);

    let mut consumer = start_consumer(&kafka);
    wait_for_order(&mut consumer, &valid);
    for reason in ["malformed order JSON", "currency must be"] {
        let warning = consumer.wait_for(reason, WAIT, |l| {
            l["message"] == "poison record; dead-lettering it"
                && l["reason"].as_str().is_some_and(|r| r.contains(reason))
        });
        assert_eq!(warning["level"], "WARN");
        assert!(warning["partition"].is_i64() && warning["offset"].is_i64());
    }

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
    assert_dead_letter_from_orders(truncated, "malformed order JSON");

    let invalid_record = by_key[invalid.order_id.to_string().as_bytes()];
    assert!(
        header(invalid_record, headers::DLQ_REASON)
            .unwrap()
            .contains("currency")
    );
    consumer.stop();
}

#[test]
fn a_poison_record_too_large_for_the_dead_letter_topic_is_dead_lettered_without_its_payload() {
    let kafka = MockKafka::start();
    // Accepted into the orders topic, but larger than the dead-letter
    // producer's message.max.bytes below: its copy is refused as it is.
    let large = vec![b'x'; 8_000];
    test_support::produce(
        &kafka.bootstrap,
        "orders",
        Some(b"large-key"),
        &large,
        OwnedHeaders::new(),
    );
    let valid = order("cust-after");
    publish_order(&kafka.bootstrap, &valid);

    let mut consumer = common::start_consumer(&kafka, "message.max.bytes=4000", &[]);
    wait_for_order(&mut consumer, &valid);
    let refused = consumer.wait_for_message(
        "the dead-letter topic refused the record; dead-lettering it without its payload",
    );
    assert_eq!(refused["payload_bytes"], 8_000);

    let dead = test_support::read(&kafka.bootstrap, "orders.dlq", 1, Duration::from_secs(10));
    assert_eq!(dead.len(), 1, "the record is in the dead-letter topic");
    let record = &dead[0];
    assert_eq!(record.key(), Some(&b"large-key"[..]));
    assert_eq!(record.payload(), None, "without its payload");
    assert_eq!(
        header(record, headers::DLQ_PAYLOAD_OMITTED).as_deref(),
        Some("8000")
    );
    assert_dead_letter_from_orders(record, "malformed order JSON");
    consumer.stop();
    assert!(
        consumer
            .logged("cannot write to the dead-letter topic")
            .is_empty(),
        "no retry loop on a record the topic refuses"
    );
}

/// Asserts that `record` names its origin in the orders topic and a reason
/// mentioning `reason`.
fn assert_dead_letter_from_orders(record: &OwnedMessage, reason: &str) {
    let dlq_reason = header(record, headers::DLQ_REASON).expect("a dlq-reason header");
    assert!(dlq_reason.contains(reason), "reason: {dlq_reason}");
    assert_eq!(
        header(record, headers::DLQ_SOURCE_TOPIC).as_deref(),
        Some("orders")
    );
    assert!(header(record, headers::DLQ_SOURCE_PARTITION).is_some());
    assert!(header(record, headers::DLQ_SOURCE_OFFSET).is_some());
}

/// The management listener's address, from the consumer's start-up log.
fn health_addr(consumer: &mut ServiceProcess) -> String {
    let listening = consumer.wait_for_message("management listener up");
    listening["addr"].as_str().unwrap().to_owned()
}

/// `GET path` on `addr`; the status line and the rest of the response.
fn get(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_consumer_reports_ready_once_it_has_joined_the_group() {
    let kafka = MockKafka::start();
    let mut consumer = start_consumer(&kafka);
    let addr = health_addr(&mut consumer);
    assert!(get(&addr, "/livez").starts_with("HTTP/1.1 200"));
    consumer.wait_for_message("partitions assigned");
    assert!(get(&addr, "/readyz").starts_with("HTTP/1.1 200"));
    consumer.stop();
}

#[test]
fn a_consumer_cut_off_from_its_group_says_so_turns_unready_and_rejoins() {
    let kafka = MockKafka::start();
    let mut consumer = start_consumer(&kafka);
    let addr = health_addr(&mut consumer);
    consumer.wait_for_message("partitions assigned");

    // No heartbeat reaches the coordinator for longer than the session
    // timeout (3 s here): the group has moved on without this member.
    kafka.cluster.broker_down(1).unwrap();
    let lost = consumer
        .wait_for_message("group membership lost; partitions revoked without a commit, rejoining");
    assert_eq!(lost["level"], "ERROR");
    assert!(get(&addr, "/readyz").starts_with("HTTP/1.1 503"));

    kafka.cluster.broker_up(1).unwrap();
    consumer.wait_for("a second assignment", WAIT, {
        let mut assigned = 0;
        move |line| {
            if line["message"] == "partitions assigned" {
                assigned += 1;
            }
            assigned == 2
        }
    });
    assert!(get(&addr, "/readyz").starts_with("HTTP/1.1 200"));
    let after = order("after-the-outage");
    publish_order(&kafka.bootstrap, &after);
    wait_for_order(&mut consumer, &after);
    consumer.stop();
}
