//! Orders Kafka did not plainly acknowledge: a 503 names the order (the id
//! the service generated included), so that a retry reuses it; an
//! acknowledgement without a position is answered with `"offset": null`;
//! and an order whose client went away is followed to its end and logged.

mod common;

use std::time::Duration;

use common::{TestApp, problem, start_service, valid_order};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::MockKafka;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn a_503_names_the_order_so_that_a_retry_can_reuse_its_id() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--delivery-timeout-ms", "1500"]).await;
    app.wait_ready().await;
    kafka.cluster.broker_down(1).unwrap();

    // No order_id in the request: the service generated one, and says which.
    let response = app.post_order(&valid_order()).await;
    let body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["type"], "urn:problem-type:orders:kafka-unavailable");
    let generated = Uuid::parse_str(body["order_id"].as_str().expect("order_id")).unwrap();
    assert_eq!(generated.get_version_num(), 7);

    let chosen = Uuid::now_v7();
    let mut order = valid_order();
    order["order_id"] = json!(chosen);
    let body = problem(
        app.post_order(&order).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(body["order_id"], json!(chosen));

    let batch = json!({"orders": [valid_order(), valid_order(), {"customer_id": ""}]});
    let response = app.post_batch(&batch).await;
    assert_eq!(response.status(), StatusCode::MULTI_STATUS);
    let answer: Value = response.json().await.unwrap();
    let results = answer["results"].as_array().unwrap();
    let named: Vec<&str> = results[..2]
        .iter()
        .map(|result| {
            assert_eq!(result["status"], 503);
            result["body"]["order_id"].as_str().expect("order_id")
        })
        .collect();
    assert_ne!(named[0], named[1], "each order its own id");
    assert_eq!(results[2]["status"], 400);
    assert!(
        results[2]["body"].get("order_id").is_none(),
        "an order refused before it reached Kafka has no id to retry with"
    );

    kafka.cluster.broker_up(1).unwrap();
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acknowledgement_without_an_offset_is_answered_201_with_a_null_offset() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    app.wait_ready().await;
    // librdkafka reads this answer to a produce request as "an earlier
    // attempt was stored": delivered, with no valid offset.
    kafka.cluster.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_DUPLICATE_SEQUENCE_NUMBER],
    );

    let response = app.post_order(&valid_order()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert!(body["offset"].is_null(), "{body}");
    assert!(body["partition"].is_i64(), "{body}");

    let after = app.post_order(&valid_order()).await;
    let body: Value = after.json().await.unwrap();
    assert!(
        body["offset"].is_i64(),
        "the next one has its offset: {body}"
    );
    app.shut_down().await;
}

/// Sends `order` and gives up on the answer after a moment, as a client
/// whose own timeout is shorter than the broker's acknowledgement.
async fn post_and_go_away(api: &str, order: &Value) {
    let gone = reqwest::Client::new()
        .post(format!("{api}/orders"))
        .json(order)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(gone.is_err_and(|e| e.is_timeout()), "the client gave up");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_whose_client_went_away_is_still_settled_and_logged_with_its_id() {
    let kafka = MockKafka::start();
    let (mut service, api) = start_service(&kafka, &[("DELIVERY_TIMEOUT_MS", "4000")]);

    // Stored after the client left.
    kafka
        .cluster
        .broker_round_trip_time(1, Duration::from_millis(800))
        .unwrap();
    let stored = Uuid::now_v7();
    let mut order = valid_order();
    order["order_id"] = json!(stored);
    post_and_go_away(&api, &order).await;
    let line = service.wait_for_message("order stored, but its client went away before the answer");
    assert_eq!(line["order_id"], json!(stored));
    assert_eq!(line["level"], "WARN");
    assert!(
        line["partition"].is_i64() && line["offset"].is_i64(),
        "{line}"
    );
    assert!(
        line["span"]["request_id"].is_string(),
        "in the request's span: {line}"
    );

    // Not stored after the client left.
    kafka.cluster.broker_down(1).unwrap();
    let failed = Uuid::now_v7();
    order["order_id"] = json!(failed);
    post_and_go_away(&api, &order).await;
    let line = service
        .wait_for_message("order not acknowledged, and its client went away before the answer");
    assert_eq!(line["order_id"], json!(failed));
    assert!(line["error"].is_string(), "{line}");

    let metrics = reqwest::get(format!("{}/metrics", service.management_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let metrics = test_support::Exposition::parse(&metrics).unwrap();
    let published = |result| metrics.value("orders_published_total", &[("result", result)]);
    assert_eq!(published("acked"), Some(1.0));
    assert_eq!(published("failed"), Some(1.0));
    kafka.cluster.broker_up(1).unwrap();
    service.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_left_unsettled_at_exit_is_named_in_the_last_lines() {
    let kafka = MockKafka::start();
    let (mut service, api) = start_service(
        &kafka,
        &[
            // Longer than the flush: the order is still queued at exit.
            ("DELIVERY_TIMEOUT_MS", "60000"),
            ("FLUSH_TIMEOUT_MS", "1000"),
        ],
    );
    kafka.cluster.broker_down(1).unwrap();
    let unsettled = Uuid::now_v7();
    let mut order = valid_order();
    order["order_id"] = json!(unsettled);
    post_and_go_away(&api, &order).await;

    let status = service.terminate(test_support::SHUTDOWN_BOUND);
    assert!(status.success(), "exit status {status}");
    let named = service.logged(
        "orders without a delivery report at exit, their clients gone: each may or may not be stored",
    );
    assert_eq!(named.len(), 1, "{:#?}", service.lines());
    assert_eq!(named[0]["order_ids"], json!(unsettled.to_string()));
    assert_eq!(named[0]["level"], "ERROR");
    kafka.cluster.broker_up(1).unwrap();
}
