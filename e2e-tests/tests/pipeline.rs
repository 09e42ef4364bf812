//! The pipeline end to end: Apache Kafka and the release binaries of both services
//! as separate processes, checked through HTTP, the services' logs and the
//! broker itself. Run by `scripts/e2e.sh`.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use e2e_tests::{
    Broker, GROUP, GROUP_WAIT, ORDERS_PARTITIONS, assignment, order_body, post_all, start_consumer,
    start_consumer_with, start_producer, start_producer_with, wait_processed,
};
use rdkafka::Message;
use test_support::{ServiceProcess, processed};

/// POSTs `count` valid orders and returns each one's id with the partition
/// and offset the service answered, asserting every answer is 201.
fn post_valid_orders(url: &str, count: usize, first: usize) -> HashMap<String, (i64, i64)> {
    let bodies = (first..first + count).map(order_body).collect();
    let answers = post_all(url, "application/json", bodies, 64);
    let mut placed = HashMap::new();
    for answer in answers {
        assert_eq!(answer.status, 201, "{answer:?}");
        let id = answer.body["order_id"]
            .as_str()
            .expect("order_id")
            .to_owned();
        let at = (
            answer.body["partition"].as_i64().expect("partition"),
            answer.body["offset"].as_i64().expect("offset"),
        );
        assert!(placed.insert(id, at).is_none(), "order ids are unique");
    }
    placed
}

fn ids(placed: &HashMap<String, (i64, i64)>) -> BTreeSet<String> {
    placed.keys().cloned().collect()
}

#[test]
fn two_thousand_concurrent_orders_are_each_acknowledged_stored_and_processed_once() {
    let broker = Broker::start();
    two_thousand_orders(&broker.bootstrap);
}

/// The same check on the path `docker-compose.yml` runs: ZooKeeper and
/// Apache Kafka 3.9.
#[test]
fn two_thousand_orders_on_zookeeper_mode_kafka_are_each_acknowledged_stored_and_processed_once() {
    let broker = Broker::zookeeper();
    two_thousand_orders(&broker.bootstrap);
}

fn two_thousand_orders(bootstrap: &str) {
    let mut consumer = start_consumer_with(bootstrap, GROUP, &[]);
    let (mut producer, url) = start_producer_with(bootstrap, &[]);

    let placed = post_valid_orders(&url, 2000, 0);
    assert_eq!(placed.len(), 2000);

    wait_processed(&mut [&mut consumer], &ids(&placed), GROUP_WAIT);
    let counts = processed(&mut consumer);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "orders processed more than once: {twice:?}"
    );
    assert_eq!(counts.len(), 2000);

    let records = test_support::read(bootstrap, "orders", 2000, Duration::from_secs(30));
    assert_eq!(records.len(), 2000);
    for record in &records {
        let key = std::str::from_utf8(record.key().expect("keyed")).unwrap();
        let at = placed
            .get(key)
            .unwrap_or_else(|| panic!("unexpected record {key}"));
        assert_eq!(
            *at,
            (i64::from(record.partition()), record.offset()),
            "order {key}"
        );
    }

    producer.stop();
    consumer.stop();
}

#[test]
fn bad_input_is_answered_with_problems_and_publishes_nothing() {
    let broker = Broker::start();
    let (mut producer, url) = start_producer(&broker);

    let cases: &[(&str, String, u16)] = &[
        ("application/json", "{\"customer_id\": ".to_owned(), 400),
        ("application/json", "[1, 2]".to_owned(), 400),
        ("application/json", order_body(1).replace("\"quantity\":2", "\"quantity\":\"2\""), 400),
        ("text/plain", order_body(1), 415),
        ("application/json", format!("{{\"pad\": \"{}\"}}", "x".repeat(70_000)), 413),
        (
            "application/json",
            r#"{"customer_id":"a b","currency":"eur","items":[{"sku":"A","quantity":0,"unit_price_cents":1}]}"#
                .to_owned(),
            422,
        ),
    ];
    for (content_type, body, status) in cases {
        let answer = post_all(&url, content_type, vec![body.clone()], 1).remove(0);
        assert_eq!(
            answer.status, *status,
            "{content_type} {:.60}: {answer:?}",
            body
        );
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.body["status"], *status);
        assert!(
            answer.body["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }

    producer.stop();
    assert_eq!(
        broker.watermark_count("orders"),
        0,
        "nothing was published for rejected orders"
    );
}

#[test]
fn sigterm_stops_both_services_cleanly_with_every_offset_committed() {
    let broker = Broker::start();
    let mut consumer = start_consumer(&broker, GROUP);
    let (mut producer, url) = start_producer(&broker);
    let placed = post_valid_orders(&url, 200, 0);
    wait_processed(&mut [&mut consumer], &ids(&placed), GROUP_WAIT);

    consumer.stop();
    assert_eq!(
        broker.committed_offsets(GROUP, "orders"),
        broker.end_offsets("orders"),
        "the group committed up to the end of every partition"
    );

    // A restarted consumer resumes after the committed offsets.
    let mut restarted = start_consumer(&broker, GROUP);
    let late = post_valid_orders(&url, 1, 1000);
    wait_processed(&mut [&mut restarted], &ids(&late), GROUP_WAIT);
    producer.stop();
    restarted.stop();
    let again = processed(&mut restarted);
    assert_eq!(
        again.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&late),
        "nothing processed twice"
    );
}

#[test]
fn three_consumers_share_six_partitions_and_process_every_order_once() {
    let broker = Broker::start();
    let mut consumers: Vec<ServiceProcess> =
        (0..3).map(|_| start_consumer(&broker, GROUP)).collect();
    let (mut producer, url) = start_producer(&broker);

    // Wait for the group to settle: together the three hold all six
    // partitions, each its own share.
    let deadline = std::time::Instant::now() + GROUP_WAIT;
    loop {
        let held: Vec<BTreeSet<String>> = consumers.iter_mut().map(assignment).collect();
        let union: BTreeSet<&String> = held.iter().flatten().collect();
        let total: usize = held.iter().map(BTreeSet::len).sum();
        if union.len() == usize::try_from(ORDERS_PARTITIONS).unwrap()
            && total == union.len()
            && held.iter().all(|h| !h.is_empty())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "group did not settle: {held:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let placed = post_valid_orders(&url, 600, 0);
    let mut refs: Vec<&mut ServiceProcess> = consumers.iter_mut().collect();
    wait_processed(&mut refs, &ids(&placed), GROUP_WAIT);

    let mut total: HashMap<String, usize> = HashMap::new();
    for consumer in &mut consumers {
        let mine = processed(consumer);
        assert!(!mine.is_empty(), "every consumer processed some orders");
        for (id, n) in mine {
            *total.entry(id).or_default() += n;
        }
    }
    assert_eq!(total.len(), 600);
    assert!(
        total.values().all(|n| *n == 1),
        "each order processed once across the group"
    );

    producer.stop();
    for consumer in &mut consumers {
        consumer.stop();
    }
}
