//! The producer under faults injected into librdkafka's mock cluster: an
//! order answered 201 is in the topic exactly once, whatever fails; other
//! orders are answered 503 within the delivery timeout.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use common::{TestApp, check_topic, load_until, valid_order};
use order_contract::Order;
use producer_service::Config;
use producer_service::publisher::Publisher;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use reqwest::StatusCode;
use test_support::MockKafka;
use test_support::load::Outcome;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn count(outcomes: &[Outcome], status: u16) -> usize {
    test_support::load::count(outcomes, Some(status))
}

/// Runs `workers` clients while `fault` runs, then stops them.
async fn load_during(
    app: &TestApp,
    workers: usize,
    fault: impl Future<Output = ()>,
) -> Vec<Outcome> {
    let stop = Arc::new(AtomicBool::new(false));
    let load = load_until(app, workers, Arc::clone(&stop));
    let fault = async {
        fault.await;
        stop.store(true, Ordering::Relaxed);
    };
    let (outcomes, ()) = tokio::join!(load, fault);
    outcomes
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_broker_down_then_up_every_order_is_either_201_and_stored_or_503() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--delivery-timeout-ms", "1500"]).await;
    app.wait_ready().await;

    let outcomes = load_during(&app, 8, async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        kafka.cluster.broker_down(1).unwrap();
        tokio::time::sleep(Duration::from_millis(5000)).await;
        kafka.cluster.broker_up(1).unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
    })
    .await;

    let (created, unavailable) = (count(&outcomes, 201), count(&outcomes, 503));
    assert_eq!(created + unavailable, outcomes.len(), "only 201 or 503");
    assert!(
        created > 0 && unavailable > 0,
        "the fault was hit: {created} created, {unavailable} refused"
    );
    // The service answers within the timeout plus its 1 s guard; the bound
    // leaves headroom for a shared machine and is still below the 5 s outage.
    let slowest = outcomes.iter().map(|o| o.elapsed).max().unwrap();
    assert!(
        slowest < Duration::from_millis(1500 + 1000 + 1500),
        "slowest answer {slowest:?}"
    );

    app.shut_down().await;
    let report = check_topic(&kafka, &outcomes).await;
    assert!(report.nothing_lost(), "{report}");
    assert!(report.duplicated.is_empty(), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_produce_errors_are_retried_without_loss_or_duplicates() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    app.wait_ready().await;
    let errors = [
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
    ];

    // Each burst fails the next three produce requests, one error of each kind.
    let outcomes = load_during(&app, 8, async {
        for _ in 0..6 {
            kafka
                .cluster
                .request_errors(RDKafkaApiKey::Produce, &errors);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Load on after the faults, so orders queued behind a reconnect
        // are acknowledged while the clients still run. With one produce
        // request in flight, recovering from a burst can take seconds.
        tokio::time::sleep(Duration::from_secs(4)).await;
    })
    .await;

    assert!(outcomes.len() > 20, "load ran: {}", outcomes.len());
    assert_eq!(
        count(&outcomes, 201),
        outcomes.len(),
        "every order acknowledged after retries"
    );
    app.shut_down().await;
    let report = check_topic(&kafka, &outcomes).await;
    assert!(report.nothing_lost(), "{report}");
    assert!(
        report.duplicated.is_empty(),
        "idempotence: no duplicates; {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_produce_errors_keep_the_order_within_a_partition() {
    let kafka = MockKafka::start();
    let config =
        Config::try_parse_from(["producer-service", "--kafka-brokers", &kafka.bootstrap]).unwrap();
    let publisher = Publisher::new(&config).unwrap();
    kafka.cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
        ]
        .repeat(2),
    );

    // One key, so one partition; join_all enqueues the sends in this order
    // and keeps many in flight at once, which is where retries could reorder.
    let key = uuid::Uuid::now_v7();
    let orders: Vec<Order> = (0..200)
        .map(|i| Order {
            order_id: key,
            ..test_support::order(&format!("seq-{i}"))
        })
        .collect();
    let acks =
        futures::future::join_all(orders.iter().map(|o| publisher.publish(o, TRACEPARENT))).await;
    let acks: Vec<_> = acks
        .into_iter()
        .map(|a| a.expect("acknowledged after retries"))
        .collect();

    assert!(acks.iter().all(|a| a.partition == acks[0].partition));
    let offsets: Vec<i64> = acks.iter().map(|a| a.offset.expect("a position")).collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "offsets follow the send order"
    );
    assert_eq!(
        offsets[199],
        offsets[0] + 199,
        "no gaps: nothing stored twice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_round_trip_slower_than_the_delivery_timeout_is_answered_503_in_time_and_recovers() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--delivery-timeout-ms", "1000"]).await;
    app.wait_ready().await;
    kafka
        .cluster
        .broker_round_trip_time(1, Duration::from_millis(6000))
        .unwrap();

    let outcomes = load_during(&app, 4, tokio::time::sleep(Duration::from_secs(3))).await;
    assert!(
        outcomes.iter().all(|o| o.status == Some(503)),
        "all refused while slow"
    );
    // The timeout plus the service's 1 s guard, with headroom for a shared
    // machine; an unbounded wait would last the 6 s round trip.
    let slowest = outcomes.iter().map(|o| o.elapsed).max().unwrap();
    assert!(
        slowest < Duration::from_millis(1000 + 1000 + 2000),
        "bounded wait: {slowest:?}"
    );

    kafka
        .cluster
        .broker_round_trip_time(1, Duration::ZERO)
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let response = app.post_order(&valid_order()).await;
        if response.status() == StatusCode::CREATED {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.shut_down().await;
}
