//! Black-box tests of the order API: the real service on port 0 against an
//! in-process mock Kafka cluster, one cluster per test: what is stored, and
//! what bad input gets.

mod common;

use std::time::Duration;

use common::{TestApp, count_records, problem, valid_order};
use order_contract::{Order, headers};
use producer_service::handler::OrderAccepted;
use rdkafka::Message;
use reqwest::StatusCode;
use serde_json::json;
use test_support::{MockKafka, header};

#[tokio::test]
async fn a_valid_order_is_stored_in_the_topic_where_the_response_says() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;

    let response = app.post_order(&valid_order()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let accepted: OrderAccepted = response.json().await.unwrap();
    assert_eq!(accepted.topic, "orders");
    assert_eq!(accepted.total_cents, 2848);
    assert_eq!(
        accepted.order_id.get_version_num(),
        7,
        "generated ids are UUIDv7"
    );

    let bootstrap = kafka.bootstrap.clone();
    let stored = tokio::task::spawn_blocking(move || {
        test_support::read(&bootstrap, "orders", 1, Duration::from_secs(10))
    })
    .await
    .unwrap();
    assert_eq!(stored.len(), 1);
    let record = &stored[0];
    assert_eq!(record.partition(), accepted.partition);
    assert_eq!(Some(record.offset()), accepted.offset);
    assert_eq!(record.key(), Some(accepted.order_id.to_string().as_bytes()));
    assert_eq!(
        header(record, headers::CONTENT_TYPE).as_deref(),
        Some("application/json")
    );
    assert_eq!(
        header(record, headers::SCHEMA_VERSION).as_deref(),
        Some("1")
    );
    let order = Order::decode(record.payload().unwrap()).expect("a valid order was published");
    assert_eq!(order.order_id, accepted.order_id);
    assert_eq!(order.total_cents, 2848);
    assert_eq!(order.created_at, accepted.created_at);
    app.shut_down().await;
}

#[tokio::test]
async fn a_client_chosen_order_id_is_kept_and_unknown_fields_are_ignored() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    let mut body = valid_order();
    body["order_id"] = json!("0190f3c4-5b6a-7d8e-9f01-23456789abcd");
    body["coupon"] = json!("WINTER");

    let response = app.post_order(&body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let accepted: OrderAccepted = response.json().await.unwrap();
    assert_eq!(
        accepted.order_id.to_string(),
        "0190f3c4-5b6a-7d8e-9f01-23456789abcd"
    );
    app.shut_down().await;
}

#[tokio::test]
async fn every_class_of_bad_input_gets_its_problem_and_publishes_nothing() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--max-body-bytes", "1024"]).await;
    let json = Some("application/json");

    let body = problem(
        app.post_raw(json, "{\"customer_id\": ").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("not valid JSON"),
        "{body}"
    );

    let trailing = format!("{} trailing", valid_order());
    let body = problem(app.post_raw(json, trailing).await, StatusCode::BAD_REQUEST).await;
    assert!(
        body["detail"].as_str().unwrap().contains("not valid JSON"),
        "{body}"
    );

    let mut wrong_type = valid_order();
    wrong_type["items"][1]["quantity"] = json!("1");
    let body = problem(app.post_order(&wrong_type).await, StatusCode::BAD_REQUEST).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("items[1].quantity:"),
        "{body}"
    );

    let mut negative = valid_order();
    negative["items"][0]["unit_price_cents"] = json!(-5);
    let body = problem(app.post_order(&negative).await, StatusCode::BAD_REQUEST).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("items[0].unit_price_cents:"),
        "{body}"
    );

    let body = problem(
        app.post_order(&json!({"currency": "EUR", "items": []}))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("customer_id"),
        "{body}"
    );

    let body = problem(
        app.post_order(&json!([1, 2])).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("must be a JSON object"),
        "{body}"
    );

    let valid = valid_order().to_string();
    problem(
        app.post_raw(None, valid.clone()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    let body = problem(
        app.post_raw(Some("text/plain"), valid).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("text/plain"),
        "{body}"
    );

    let mut huge = valid_order();
    huge["padding"] = json!("x".repeat(2000));
    let body = problem(app.post_order(&huge).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(body["detail"].as_str().unwrap().contains("1024"), "{body}");

    let invalid = json!({
        "customer_id": "no spaces allowed",
        "currency": "eur",
        "items": [{"sku": "OK", "quantity": 0, "unit_price_cents": 100_000_001}]
    });
    let body = problem(
        app.post_order(&invalid).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "customer_id",
            "currency",
            "items[0].quantity",
            "items[0].unit_price_cents"
        ]
    );

    problem(
        app.client.get(app.url("/orders")).send().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;
    problem(
        app.client.get(app.url("/nowhere")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;

    app.shut_down().await;
    let published = count_records(&kafka, "orders").await;
    assert_eq!(published, 0, "nothing was published");
}

#[tokio::test]
async fn the_largest_valid_order_fits_the_default_body_limit_compact_or_indented() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    let longest = "x".repeat(64);
    let item = json!({"sku": longest, "quantity": 10_000, "unit_price_cents": 100_000_000});
    let order = json!({
        "order_id": uuid::Uuid::now_v7(),
        "customer_id": longest,
        "currency": "EUR",
        "items": vec![item; 100],
    });
    for body in [
        order.to_string(),
        serde_json::to_string_pretty(&order).unwrap(),
    ] {
        assert!(body.len() > 12_000, "{} bytes", body.len());
        let response = app.post_raw(Some("application/json"), body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    app.shut_down().await;
}
