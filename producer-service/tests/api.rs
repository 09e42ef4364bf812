//! Black-box tests of the HTTP API: the real service on port 0 against an
//! in-process mock Kafka cluster, one cluster per test.

mod common;

use std::time::{Duration, Instant};

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
    let live = app
        .client
        .get(app.management_url("/livez"))
        .send()
        .await
        .unwrap();
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
        let ready = app
            .client
            .get(app.management_url("/readyz"))
            .send()
            .await
            .unwrap();
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

#[tokio::test]
async fn the_request_id_is_echoed_and_the_trace_continues_into_the_record() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";

    let response = app
        .client
        .post(app.url("/orders"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .header("x-request-id", "checkout-7")
        .json(&valid_order())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-request-id"], "checkout-7");

    let without = app.post_order(&valid_order()).await;
    let generated = without.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
    let too_long = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "x".repeat(129))
        .send()
        .await
        .unwrap();
    let replaced = too_long.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(replaced).is_ok(), "{replaced}");
    let invalid = app.post_raw(Some("application/json"), "{").await;
    assert!(
        invalid.headers().contains_key("x-request-id"),
        "problems carry it too"
    );

    let bootstrap = kafka.bootstrap.clone();
    let records = tokio::task::spawn_blocking(move || {
        test_support::read(&bootstrap, "orders", 2, Duration::from_secs(10))
    })
    .await
    .unwrap();
    let mut trace_ids: Vec<String> = records
        .iter()
        .map(|record| {
            let traceparent = header(record, headers::TRACEPARENT).expect("traceparent header");
            traceparent.split('-').nth(1).unwrap().to_owned()
        })
        .collect();
    assert!(trace_ids.contains(&trace_id.to_owned()), "{trace_ids:?}");
    trace_ids.retain(|id| id != trace_id);
    assert_eq!(
        trace_ids.len(),
        1,
        "a request without one starts its own trace"
    );
    app.shut_down().await;
}

#[tokio::test]
async fn with_api_tokens_posting_needs_one_and_the_operational_endpoints_stay_open() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--api-tokens", "token-one,token-two"]).await;
    app.wait_ready().await;
    let post = |authorization: Option<&'static str>| {
        let mut request = app.client.post(app.url("/orders")).json(&valid_order());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };

    let missing = post(None).await.unwrap();
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Bearer realm="orders""#
    );
    let body = problem(missing, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["type"], "urn:problem-type:orders:unauthorized");
    for wrong in [
        "Bearer token-three",
        "Bearer token-on",
        "Basic token-one",
        "token-one",
    ] {
        let response = post(Some(wrong)).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{wrong}");
    }
    let wrong = post(Some("Bearer nope")).await.unwrap();
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    for right in ["Bearer token-one", "bearer token-two"] {
        let response = post(Some(right)).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{right}");
    }
    for open in [
        app.url("/openapi.json"),
        app.management_url("/livez"),
        app.management_url("/readyz"),
        app.management_url("/metrics"),
    ] {
        let response = app.client.get(&open).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{open}");
    }
    app.shut_down().await;
    assert_eq!(
        count_records(&kafka, "orders").await,
        2,
        "refused orders were not published"
    );
}
