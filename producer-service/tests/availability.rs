//! Black-box tests of what the service answers while Kafka is slow, away
//! or saturated, and of its probes on the management listener.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, count_records, problem, valid_order};

use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use reqwest::StatusCode;
use test_support::MockKafka;

#[tokio::test]
async fn probes_and_metrics_are_on_the_management_listener_and_not_on_the_api() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    app.wait_ready().await;
    for path in ["/livez", "/readyz", "/metrics"] {
        let public = app.client.get(app.url(path)).send().await.unwrap();
        problem(public, StatusCode::NOT_FOUND).await;
        let management = app.client.get(app.management_url(path)).send().await;
        assert_eq!(management.unwrap().status(), StatusCode::OK, "{path}");
    }
    let orders = app.client.get(app.management_url("/orders")).send().await;
    assert_eq!(orders.unwrap().status(), StatusCode::NOT_FOUND);
    app.shut_down().await;
}

#[tokio::test]
async fn the_service_is_live_at_once_and_ready_once_it_reached_kafka() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    let live = app.get_management("/livez").await;
    assert_eq!(live.status(), StatusCode::OK);
    app.wait_ready().await;
    app.shut_down().await;
}

#[tokio::test]
async fn the_service_is_not_ready_while_kafka_is_unreachable() {
    let kafka = MockKafka::start();
    kafka.cluster.broker_down(1).unwrap();
    let app = TestApp::spawn(&kafka, &[]).await;
    for _ in 0..3 {
        let ready = app.get_management("/readyz").await;
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    kafka.cluster.broker_up(1).unwrap();
    app.wait_ready().await;
    app.shut_down().await;
}

#[tokio::test]
async fn with_the_broker_down_an_order_is_answered_503_within_the_delivery_timeout() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--delivery-timeout-ms", "2000"]).await;
    app.wait_ready().await;
    kafka.cluster.broker_down(1).unwrap();

    let started = Instant::now();
    let response = app.post_order(&valid_order()).await;
    let waited = started.elapsed();
    assert!(response.headers().contains_key("retry-after"));
    problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    // The margin is wide for a shared machine, yet well under the 10 s default,
    // so the configured timeout is what answered.
    assert!(
        waited < Duration::from_millis(2000 + 5000),
        "waited {waited:?}"
    );

    kafka.cluster.broker_up(1).unwrap();
    app.shut_down().await;
}

#[tokio::test]
async fn an_acknowledgement_slower_than_the_request_timeout_is_still_answered_201() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(
        &kafka,
        &[
            "--request-timeout-ms",
            "300",
            "--delivery-timeout-ms",
            "10000",
        ],
    )
    .await;
    app.wait_ready().await;
    // The body arrives at once; the broker takes longer than the request
    // timeout to acknowledge. The timeout covers the upload only, so the
    // answer says what the broker did: stored.
    kafka
        .cluster
        .broker_round_trip_time(1, Duration::from_millis(1000))
        .unwrap();
    let response = app.post_order(&valid_order()).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // A stalled upload is the request timeout's business.
    let stalled = common::stalled_upload(app.addr, "").await;
    let answer = common::read_answer(stalled).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("nothing was published"), "{answer}");
    kafka
        .cluster
        .broker_round_trip_time(1, Duration::ZERO)
        .unwrap();
    app.shut_down().await;
    assert_eq!(count_records(&kafka, "orders").await, 1);
}

#[tokio::test]
async fn beyond_the_in_flight_limit_orders_are_shed_with_503_at_once() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--max-in-flight-orders", "2"]).await;
    app.wait_ready().await;
    kafka
        .cluster
        .broker_round_trip_time(1, Duration::from_millis(1000))
        .unwrap();

    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..6 {
        requests.spawn(
            app.client
                .post(app.url("/orders"))
                .json(&valid_order())
                .send(),
        );
    }
    // Completion order, not a stopwatch, shows "at once": every shed order is
    // answered before the broker, a full round trip away, acknowledged any.
    let mut statuses = Vec::new();
    while let Some(response) = requests.join_next().await {
        let response = response.unwrap().unwrap();
        statuses.push(response.status());
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(response.headers()["retry-after"], "1");
            let body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
            assert_eq!(body["type"], "urn:problem-type:orders:overloaded");
        }
    }
    let shed = StatusCode::SERVICE_UNAVAILABLE;
    let created = StatusCode::CREATED;
    assert_eq!(statuses, [shed, shed, shed, shed, created, created]);
    kafka
        .cluster
        .broker_round_trip_time(1, Duration::ZERO)
        .unwrap();
    app.shut_down().await;
    assert_eq!(
        count_records(&kafka, "orders").await,
        2,
        "shed orders were not published"
    );
}

async fn readyz(app: &TestApp) -> (StatusCode, String) {
    let answer = app.get_management("/readyz").await;
    (answer.status(), answer.text().await.unwrap())
}

#[tokio::test]
async fn orders_that_do_not_get_through_make_the_service_not_ready_until_one_does() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--delivery-timeout-ms", "1000"]).await;
    app.wait_ready().await;
    // The cluster answers every probe but refuses every write.
    let refuse_writes = || {
        kafka.cluster.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 1000],
        );
    };

    refuse_writes();
    let failed = app.post_order(&valid_order()).await;
    problem(failed, StatusCode::SERVICE_UNAVAILABLE).await;
    let (status, reason) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        reason.contains("the last write to Kafka failed"),
        "{reason}"
    );
    // Sent no orders (as by a load balancer), it is tried again once none
    // failed for a while and the cluster answers.
    kafka.cluster.clear_request_errors(RDKafkaApiKey::Produce);
    app.wait_ready().await;

    refuse_writes();
    let failed = app.post_order(&valid_order()).await;
    problem(failed, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(readyz(&app).await.0, StatusCode::SERVICE_UNAVAILABLE);
    // An order acknowledged makes it ready at once.
    kafka.cluster.clear_request_errors(RDKafkaApiKey::Produce);
    let stored = app.post_order(&valid_order()).await;
    assert_eq!(stored.status(), StatusCode::CREATED);
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    app.shut_down().await;
}
