//! A consumer never applies a position of a deleted topic to the topic
//! created again under its name: librdkafka keeps its fetch positions across
//! the change of topic id, so on a new topic that already holds more records
//! than the old positions, every record below them would be skipped in
//! silence. The consumer stops loudly instead, commits nothing, and its
//! restart processes every order of the new topic.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use e2e_tests::{
    Broker, GROUP, GROUP_WAIT, ORDERS_PARTITIONS, publish, start_consumer, wait_processed,
};
use test_support::{ServiceProcess, processed};

/// Waits until `GROUP` committed every record of `orders`: the consumer's
/// positions are then the topic's end.
fn wait_all_committed(broker: &Broker) {
    let deadline = Instant::now() + GROUP_WAIT;
    let end = broker.end_offsets("orders");
    while broker.committed_offsets(GROUP, "orders") != end {
        assert!(Instant::now() < deadline, "offsets not committed");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `consumer` processed every id in `ids` or exited.
fn processed_or_exited(consumer: &mut ServiceProcess, ids: &BTreeSet<String>) -> bool {
    let deadline = Instant::now() + GROUP_WAIT;
    loop {
        if consumer.has_exited() {
            return false;
        }
        let seen = processed(consumer);
        let missing = ids.iter().filter(|id| !seen.contains_key(*id)).count();
        if missing == 0 {
            return true;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} orders of the new topic not processed, and the consumer still runs",
            ids.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_topic_deleted_and_created_again_has_every_order_processed_none_skipped_for_an_old_position() {
    let broker = Broker::start();
    let first = publish(&broker, "first", 300);
    let mut consumer = start_consumer(&broker, GROUP);
    wait_processed(&mut [&mut consumer], &first, GROUP_WAIT);
    wait_all_committed(&broker);

    // The worst order of events: the consumer sees the new topic only once
    // it holds twice the records the old positions name.
    consumer.freeze(true);
    broker.recreate_topic("orders", ORDERS_PARTITIONS);
    let second = publish(&broker, "second", 600);
    consumer.freeze(false);

    if processed_or_exited(&mut consumer, &second) {
        consumer.stop();
        return;
    }
    let status = consumer.wait_for_exit(Duration::from_secs(5));
    assert!(!status.success(), "exit status {status}");
    let failed = consumer.logged("consumer-service failed");
    assert_eq!(failed.len(), 1, "{:#?}", consumer.lines());
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("topic orders was deleted and created again"),
        "{error}"
    );
    // No old position reached the new topic's committed offsets.
    let committed = broker.committed_offsets(GROUP, "orders");
    assert!(
        committed.is_empty(),
        "committed on the new topic: {committed:?}"
    );
    // As compose's `restart:` or Kubernetes would.
    let mut restarted = start_consumer(&broker, GROUP);
    wait_processed(&mut [&mut restarted], &second, Duration::from_secs(60));
    restarted.stop();
}
