//! A consumer never goes on reading a cluster that is gone: when the
//! brokers behind its bootstrap address turn into another cluster, it
//! stops loudly, commits nothing there, and its restart processes every
//! order the new cluster stored.

use std::collections::BTreeSet;
use std::time::Duration;

use e2e_tests::{
    Broker, GROUP, GROUP_WAIT, order_body, post_all, start_consumer, start_producer, wait_processed,
};
use rdkafka::consumer::Consumer;
use test_support::ServiceProcess;

/// Posts orders until `count` were answered 201; returns their ids.
fn stored_orders(url: &str, count: usize) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    // A producer that just lost its cluster answers 503 for a moment.
    for round in 0..20 {
        let bodies = (0..count - ids.len())
            .map(|n| order_body(round * count + n))
            .collect();
        for answer in post_all(url, "application/json", bodies, 8) {
            if answer.status == 201 {
                ids.insert(answer.body["order_id"].as_str().unwrap().to_owned());
            }
        }
        if ids.len() == count {
            return ids;
        }
    }
    panic!("only {} of {count} orders stored", ids.len());
}

fn cluster_id(broker: &Broker) -> String {
    let client = broker.client();
    client
        .client()
        .fetch_cluster_id(Duration::from_secs(10))
        .expect("the cluster has an id")
}

fn processing(broker: &Broker) -> ServiceProcess {
    let mut consumer = start_consumer(broker, GROUP);
    consumer.wait_for("an assignment", GROUP_WAIT, |line| {
        line["message"] == "partitions assigned"
    });
    consumer
}

#[test]
fn a_consumer_whose_brokers_become_another_cluster_stops_and_its_restart_processes_every_new_order()
{
    let broker = Broker::start();
    let old_id = cluster_id(&broker);
    let (mut producer, url) = start_producer(&broker);
    let mut consumer = processing(&broker);
    let before = stored_orders(&url, 30);
    wait_processed(&mut [&mut consumer], &before, GROUP_WAIT);

    let broker = broker.replaced();
    let new_id = cluster_id(&broker);
    assert_ne!(old_id, new_id, "a new cluster");
    let after = stored_orders(&url, 30);

    // Loudly: an error naming both clusters, and a failed exit, so that a
    // supervisor starts a fresh process.
    let status = consumer.wait_for_exit(GROUP_WAIT);
    assert!(!status.success(), "exit status {status}");
    let failed = consumer.logged("consumer-service failed");
    assert_eq!(failed.len(), 1, "{:#?}", consumer.lines());
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains(&old_id) && error.contains(&new_id),
        "{error}"
    );
    // Nothing of the old cluster's positions reached the new one.
    let committed = broker.committed_offsets(GROUP, "orders");
    assert!(
        committed.is_empty(),
        "committed on the new cluster: {committed:?}"
    );

    // As compose's `restart:` or Kubernetes would.
    let mut restarted = processing(&broker);
    wait_processed(&mut [&mut restarted], &after, Duration::from_secs(60));
    restarted.stop();
    producer.stop();
}
