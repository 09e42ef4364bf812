//! `POST /orders/batch` from outside: one result per order in request
//! order, each order reported stored only when it is in the topic where its
//! result says, and a batch refused whole publishes nothing.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, check_topic, count_records, problem, valid_order};
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::load::{Outcome, order_body};
use test_support::{Answered, MockKafka};
use uuid::Uuid;

/// The 207 results, after checking the answer's status and content type.
async fn results(response: reqwest::Response) -> Vec<Value> {
    assert_eq!(response.status(), StatusCode::MULTI_STATUS);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.expect("JSON body");
    body["results"].as_array().expect("a results array").clone()
}

/// The results as outcomes of the load checker, which compares every 201
/// with the records of the topic.
fn outcomes(ids: &[String], results: &[Value]) -> Vec<Outcome> {
    ids.iter()
        .zip(results)
        .map(|(id, result)| {
            let status = u16::try_from(result["status"].as_u64().expect("status")).unwrap();
            let placement = (status == 201).then(|| {
                assert_eq!(
                    result["body"]["order_id"],
                    id.as_str(),
                    "result in request order"
                );
                Answered::from_body(&result["body"]).expect("a 201 body")
            });
            Outcome {
                order_id: id.clone(),
                status: Some(status),
                placement,
                elapsed: Duration::ZERO,
            }
        })
        .collect()
}

fn batch_of(count: usize) -> (Vec<String>, Value) {
    let ids: Vec<String> = (0..count).map(|_| Uuid::now_v7().to_string()).collect();
    let orders: Vec<Value> = ids.iter().map(|id| order_body(id)).collect();
    (ids, json!({ "orders": orders }))
}

#[tokio::test]
async fn a_batch_of_valid_orders_gets_201_for_each_and_each_is_stored_where_its_result_says() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    app.wait_ready().await;

    let (ids, batch) = batch_of(100);
    let results = results(app.post_batch(&batch).await).await;

    assert_eq!(results.len(), 100);
    assert!(results.iter().all(|r| r["status"] == 201), "{results:?}");
    assert!(results.iter().all(|r| r["body"]["total_cents"] == 2598));
    let report = check_topic(&kafka, &outcomes(&ids, &results)).await;
    assert!(report.nothing_lost(), "{report:?}");
    assert_eq!(report.acked, 100);
    assert_eq!(
        count_records(&kafka, "orders").await,
        100,
        "nothing else published"
    );
    app.shut_down().await;
}

#[tokio::test]
async fn in_a_mixed_batch_only_the_valid_orders_are_published_and_each_bad_one_gets_its_own_problem()
 {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    app.wait_ready().await;

    let mut invalid = valid_order();
    invalid["currency"] = json!("eur");
    invalid["items"][0]["quantity"] = json!(0);
    let mut mistyped = valid_order();
    mistyped["items"][1]["quantity"] = json!("two");
    let batch = json!({ "orders": [valid_order(), invalid, mistyped, 42, valid_order()] });
    let results = results(app.post_batch(&batch).await).await;

    let statuses: Vec<&Value> = results.iter().map(|r| &r["status"]).collect();
    assert_eq!(statuses, [201, 422, 400, 400, 201]);
    let fields: Vec<&str> = results[1]["body"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["currency", "items[0].quantity"]);
    assert_eq!(
        results[1]["body"]["type"],
        "urn:problem-type:orders:validation-failed"
    );
    assert_eq!(
        results[2]["body"]["type"],
        "urn:problem-type:orders:malformed-json"
    );
    assert!(
        results[2]["body"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("items[1].quantity"),
        "the path inside the order: {}",
        results[2]["body"]["detail"]
    );
    assert_eq!(
        results[3]["body"]["detail"],
        "the body must be a JSON object"
    );
    assert_ne!(
        results[0]["body"]["order_id"],
        results[4]["body"]["order_id"]
    );
    assert_eq!(count_records(&kafka, "orders").await, 2);
    app.shut_down().await;
}

#[tokio::test]
async fn a_batch_of_more_than_500_orders_or_of_none_is_refused_whole_and_nothing_is_published() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    app.wait_ready().await;

    let (_, too_many) = batch_of(501);
    let refused = problem(
        app.post_batch(&too_many).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "orders");
    assert_eq!(
        refused["errors"][0]["message"],
        "must hold 1 to 500 orders, got 501"
    );
    // The most entries a body within MAX_BATCH_BODY_BYTES can hold: each
    // past the 500th is counted, not kept.
    let tiny = format!(r#"{{"orders": [{}0]}}"#, "0,".repeat(1024 * 1024 / 2 - 20));
    let refused = app
        .client
        .post(app.url("/orders/batch"))
        .header("content-type", "application/json")
        .body(tiny)
        .send()
        .await
        .unwrap();
    let refused = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(
        refused["errors"][0]["message"],
        format!("must hold 1 to 500 orders, got {}", 1024 * 1024 / 2 - 19)
    );
    // The count comes from the parser, never from an error's text.
    let not_an_array = json!({"orders": "the batch holds more than the most orders allowed"});
    problem(app.post_batch(&not_an_array).await, StatusCode::BAD_REQUEST).await;
    let empty = problem(
        app.post_batch(&json!({"orders": []})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        empty["errors"][0]["message"],
        "must hold 1 to 500 orders, got 0"
    );

    let (_, full) = batch_of(500);
    let results = results(app.post_batch(&full).await).await;
    assert!(results.iter().all(|r| r["status"] == 201));
    assert_eq!(
        count_records(&kafka, "orders").await,
        500,
        "only the batch of 500"
    );
    app.shut_down().await;
}

#[tokio::test]
async fn a_batch_over_the_body_limit_or_not_a_batch_is_refused_whole_and_nothing_is_published() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--max-batch-body-bytes", "10000"]).await;
    app.wait_ready().await;

    let (_, large) = batch_of(100);
    assert!(large.to_string().len() > 10_000);
    let refused = problem(app.post_batch(&large).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(
        refused["detail"],
        "the request body is larger than 10000 bytes"
    );

    for not_a_batch in [json!([valid_order()]), json!({"order": [valid_order()]})] {
        let refused = problem(app.post_batch(&not_a_batch).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(refused["type"], "urn:problem-type:orders:malformed-json");
    }
    assert_eq!(count_records(&kafka, "orders").await, 0);
    app.shut_down().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_broker_goes_down_mid_batch_each_order_is_201_and_stored_or_503() {
    let kafka = MockKafka::start();
    // Small produce requests, one at a time, each a round trip of 100 ms:
    // the batch takes seconds, so the broker can go down in its middle.
    let app = TestApp::spawn(
        &kafka,
        &[
            "--delivery-timeout-ms",
            "1500",
            "--kafka-properties",
            "batch.num.messages=20",
        ],
    )
    .await;
    app.wait_ready().await;
    kafka
        .cluster
        .broker_round_trip_time(1, Duration::from_millis(100))
        .unwrap();

    let (ids, batch) = batch_of(500);
    let answer = app.post_batch(&batch);
    let fault = async {
        // Down once the first orders are stored.
        let deadline = Instant::now() + Duration::from_secs(10);
        while count_records(&kafka, "orders").await == 0 {
            assert!(Instant::now() < deadline, "no order was ever stored");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        kafka.cluster.broker_down(1).unwrap();
    };
    let (response, ()) = tokio::join!(answer, fault);
    let results = results(response).await;
    kafka.cluster.broker_up(1).unwrap();
    kafka
        .cluster
        .broker_round_trip_time(1, Duration::ZERO)
        .unwrap();

    let created = results.iter().filter(|r| r["status"] == 201).count();
    let unavailable: Vec<&Value> = results.iter().filter(|r| r["status"] == 503).collect();
    assert_eq!(created + unavailable.len(), 500, "only 201 or 503");
    assert!(
        created > 0 && !unavailable.is_empty(),
        "the fault hit mid-batch: {created} stored"
    );
    assert!(
        unavailable
            .iter()
            .all(|r| r["body"]["type"] == "urn:problem-type:orders:kafka-unavailable")
    );
    let report = check_topic(&kafka, &outcomes(&ids, &results)).await;
    assert!(report.nothing_lost(), "{report:?}");
    assert_eq!(report.acked, created);
    app.shut_down().await;
}
