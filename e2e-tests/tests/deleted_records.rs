//! Records deleted before the consumer read them (retention, delete-records)
//! are never skipped in silence: an ERROR line per partition names the
//! offsets, `orders_skipped_offsets_total` counts them, and reading goes on
//! from what is left.

use std::collections::{BTreeSet, HashMap};

use e2e_tests::{Broker, GROUP, GROUP_WAIT, get, publish, start_consumer, wait_processed};
use test_support::Exposition;

#[test]
fn records_deleted_before_they_were_read_are_named_and_counted_then_reading_goes_on() {
    let broker = Broker::start();
    // A group that read and committed everything so far, then stopped
    // (60 orders: every partition gets some, but once in 10,000 runs).
    let read = publish(&broker, "read", 60);
    let mut consumer = start_consumer(&broker, GROUP);
    wait_processed(&mut [&mut consumer], &read, GROUP_WAIT);
    consumer.stop();
    let committed = broker.committed_offsets(GROUP, "orders");

    // While it is away, orders arrive and are deleted unread.
    publish(&broker, "deleted", 30);
    let deleted_to = broker.end_offsets("orders");
    broker.delete_records("orders", &deleted_to);
    let after = publish(&broker, "after", 30);

    let mut consumer = start_consumer(&broker, GROUP);
    wait_processed(&mut [&mut consumer], &after, GROUP_WAIT);
    let metrics_url = format!("{}/metrics", consumer.management_url());
    let (_, text) = get(&metrics_url);
    consumer.stop();

    // Each partition that had orders deleted unread, and got one after.
    let resumed: BTreeSet<i32> = consumer
        .logged("order processed")
        .iter()
        .filter(|line| after.contains(line["order_id"].as_str().unwrap()))
        .map(|line| i32::try_from(line["partition"].as_i64().unwrap()).unwrap())
        .collect();
    let mut expected: HashMap<i32, i64> = HashMap::new();
    for partition in &resumed {
        let (Some(from), Some(to)) = (committed.get(partition), deleted_to.get(partition)) else {
            continue;
        };
        if to > from {
            expected.insert(*partition, to - from);
        }
    }
    assert!(!expected.is_empty(), "orders were deleted unread");
    let named: HashMap<i32, i64> = consumer
        .logged("records deleted before they were read: offsets from..to were never processed")
        .iter()
        .map(|line| {
            assert_eq!(line["level"], "ERROR");
            (
                i32::try_from(line["partition"].as_i64().unwrap()).unwrap(),
                line["skipped"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        named, expected,
        "the ERROR lines name each partition's skipped offsets"
    );
    let counted = Exposition::parse(&text)
        .unwrap()
        .value("orders_skipped_offsets_total", &[])
        .unwrap();
    assert_eq!(counted, expected.values().sum::<i64>() as f64);
}
