//! Black-box tests of the request headers the service reads: the request
//! id, the W3C trace context and the API token.

mod common;

use std::time::Duration;

use common::{TestApp, count_records, problem, valid_order};
use order_contract::headers;
use reqwest::StatusCode;
use test_support::{MockKafka, header};

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
