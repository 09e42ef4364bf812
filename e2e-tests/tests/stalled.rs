//! A consumer that runs, holds its partitions and handles nothing is not
//! ready. On Apache Kafka: a poison record whose dead-letter topic does not
//! exist (the broker creates no topic by itself) is retried without end, so
//! the records behind it wait; after `STALL_TIMEOUT_MS` `/readyz` answers
//! 503 and one ERROR line says why. Once the topic exists the dead letter
//! goes through, and the consumer is ready again.

use std::time::Duration;

use e2e_tests::{Broker, GROUP, GROUP_WAIT, get, start_consumer_with};
use rdkafka::message::OwnedHeaders;
use test_support::{order, produce, publish_order};

const MISSING_DLQ: &str = "orders.dlq.not-yet";

#[test]
fn a_consumer_that_handles_nothing_for_the_stall_timeout_is_not_ready_until_it_handles_a_record() {
    let broker = Broker::start();
    let mut consumer = start_consumer_with(
        &broker.bootstrap,
        GROUP,
        &[("DLQ_TOPIC", MISSING_DLQ), ("STALL_TIMEOUT_MS", "3000")],
    );
    consumer.wait_for("an assignment", GROUP_WAIT, |line| {
        line["message"] == "partitions assigned"
    });
    let readyz = format!("{}/readyz", consumer.management_url());
    assert_eq!(get(&readyz).0, 200);

    produce(
        &broker.bootstrap,
        "orders",
        Some(b"poison"),
        b"not an order",
        OwnedHeaders::new(),
    );
    publish_order(&broker.bootstrap, &order("waits-behind"));
    let stalled = consumer.wait_for("the stall", Duration::from_secs(30), |line| {
        line["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("stalled:"))
    });
    assert_eq!(stalled["level"], "ERROR");
    let (status, reason) = get(&readyz);
    assert_eq!(status, 503);
    assert!(reason.contains("stalled"), "{reason}");

    broker.create_topic(MISSING_DLQ, 1);
    // The dead-letter write's next attempt: librdkafka's delivery timeout
    // (10 s) and the retry's backoff (at most 5 s) after the topic appears.
    consumer.wait_for("progress", GROUP_WAIT, |line| {
        line["message"] == "progress again; ready"
    });
    assert_eq!(get(&readyz).0, 200);
    consumer.stop();
}
