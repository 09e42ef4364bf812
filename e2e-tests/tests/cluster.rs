//! Faults only a real cluster shows, on three Apache Kafka nodes (topics
//! with three replicas and `min.insync.replicas=2`), under load: a crash, a
//! rolling restart, a freeze, a network partition, the coordinator lost,
//! two brokers down. Each
//! scenario keeps a ledger: every order answered 201 is consumed at least
//! once and stored where its answer said, duplicates are counted and printed, nothing else than 201 or 503 is
//! answered (the load sends valid orders only), and of the orders answered
//! 503, which may or may not be stored, the report counts how many were.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use e2e_tests::{Broker, GROUP, Load, start_consumer_with, start_producer_with, wait_processed};
use rdkafka::Message;
use test_support::load::{Outcome, check_topic, count};

/// Client timeouts short enough for the scenarios to outlast them.
const CLIENT_TIMING: &str =
    "session.timeout.ms=6000;heartbeat.interval.ms=1000;request.timeout.ms=5000";
const DELIVERY_TIMEOUT_MS: u64 = 8000;

fn sleep_s(seconds: u64) {
    std::thread::sleep(Duration::from_secs(seconds));
}

/// Runs `fault` on a three-node cluster while orders are posted and
/// consumed, then checks the ledger; returns the outcomes.
fn scenario(name: &str, fault: impl FnOnce(&mut Broker)) -> Vec<Outcome> {
    scenario_on(Broker::cluster(3), name, fault)
}

/// [`scenario`] on `cluster`.
fn scenario_on(mut cluster: Broker, name: &str, fault: impl FnOnce(&mut Broker)) -> Vec<Outcome> {
    let timeout = DELIVERY_TIMEOUT_MS.to_string();
    let env = [
        ("DELIVERY_TIMEOUT_MS", timeout.as_str()),
        ("KAFKA_PROPERTIES", CLIENT_TIMING),
    ];
    let (mut producer, url) = start_producer_with(&cluster.bootstrap, &env);
    let mut consumer = start_consumer_with(&cluster.bootstrap, GROUP, &env);

    let load = Load::start(&url, 8);
    sleep_s(3);
    fault(&mut cluster);
    sleep_s(3);
    let outcomes = load.stop();
    producer.stop();

    let unexpected: Vec<_> = outcomes
        .iter()
        .filter(|o| !matches!(o.status, Some(201 | 503)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{name}: only 201 or 503: {unexpected:?}"
    );
    let acked: BTreeSet<String> = outcomes
        .iter()
        .filter(|o| o.status == Some(201))
        .map(|o| o.order_id.clone())
        .collect();
    assert!(!acked.is_empty(), "{name}: orders were accepted");
    // Every acknowledged order reaches the consumer, whatever the fault did.
    wait_processed(&mut [&mut consumer], &acked, Duration::from_secs(120));
    consumer.stop();

    let report = check_topic(&cluster.internal, "orders", &outcomes);
    let stored: HashSet<String> = test_support::read_all(&cluster.internal, "orders")
        .iter()
        .filter_map(|record| {
            record
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
        })
        .collect();
    let refused: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == Some(503)).collect();
    let refused_but_stored = refused
        .iter()
        .filter(|o| stored.contains(&o.order_id))
        .count();
    println!(
        "{name}: {report}; {} answered 503, {refused_but_stored} of them stored; {} duplicate records",
        refused.len(),
        report.duplicates()
    );
    assert!(report.lost.is_empty(), "{name}: {report}");
    // Every 201 named where the order is. With five produce requests in
    // flight this failed in half the runs (docs/delivery-guarantees.md).
    assert!(report.misplaced.is_empty(), "{name}: {report}");
    outcomes
}

#[test]
fn the_leader_of_the_busiest_partition_killed_mid_load_and_restarted_loses_nothing() {
    scenario("leader SIGKILL", |cluster| {
        let leader = cluster.leader_of_busiest_partition("orders");
        cluster.kill(leader);
        sleep_s(5);
        cluster.restart();
        cluster.wait_in_sync("orders");
    });
}

#[test]
fn a_rolling_restart_of_all_three_brokers_under_load_loses_nothing() {
    scenario("rolling restart", |cluster| {
        for id in cluster.node_ids() {
            cluster.stop(id);
            cluster.restart();
            cluster.wait_in_sync("orders");
        }
    });
}

#[test]
fn a_broker_frozen_longer_than_every_timeout_then_thawed_loses_nothing() {
    scenario("SIGSTOP", |cluster| {
        let frozen = cluster.leader_of_busiest_partition("orders");
        cluster.freeze(frozen, true);
        // Past the clients' session and request timeouts, and the broker's
        // own session with the controller (9 s): it is fenced meanwhile.
        sleep_s(12);
        cluster.freeze(frozen, false);
        cluster.wait_in_sync("orders");
    });
}

#[test]
fn the_leader_of_the_busiest_partition_cut_off_by_a_network_partition_then_healed_loses_nothing() {
    scenario_on(
        Broker::isolated_cluster(3),
        "network partition",
        |cluster| {
            let cut = cluster.leader_of_busiest_partition("orders");
            // Its process runs on, believing itself the leader, while nothing
            // reaches it or leaves it.
            cluster.partition(cut, true);
            // Past the clients' session and request timeouts, and the broker's
            // own session with the controller (9 s): the others fence it and
            // take over its leaderships meanwhile.
            sleep_s(12);
            let leader = cluster.leader_of_busiest_partition("orders");
            assert_ne!(leader, cut, "the cut broker lost its leadership");
            cluster.partition(cut, false);
            cluster.wait_in_sync("orders");
        },
    );
}

#[test]
fn the_group_coordinator_killed_while_consumers_run_loses_nothing() {
    scenario("coordinator SIGKILL", |cluster| {
        let coordinator = cluster.coordinator(GROUP);
        cluster.kill(coordinator);
        sleep_s(5);
        cluster.restart();
        cluster.wait_in_sync("orders");
    });
}

#[test]
fn with_two_brokers_down_orders_are_refused_in_time_and_the_pipeline_recovers() {
    let outcomes = scenario("two brokers down", |cluster| {
        let ids = cluster.node_ids();
        cluster.kill(ids[1]);
        cluster.kill(ids[2]);
        // min.insync.replicas=2 cannot be met: nothing is acknowledged.
        sleep_s(DELIVERY_TIMEOUT_MS / 1000 + 4);
        cluster.restart();
        cluster.wait_in_sync("orders");
    });
    assert!(count(&outcomes, Some(503)) > 0, "the outage refused orders");
    // Every answer came within the delivery timeout and its one-second
    // guard (plus room for a busy machine).
    let bound = Duration::from_millis(DELIVERY_TIMEOUT_MS + 1000 + 3000);
    let slowest = outcomes.iter().map(|o| o.elapsed).max().unwrap();
    assert!(slowest < bound, "slowest answer {slowest:?}");
    let recovered = outcomes
        .iter()
        .rev()
        .take(20)
        .any(|o| o.status == Some(201));
    assert!(
        recovered,
        "orders are acknowledged again after the brokers return"
    );
}
