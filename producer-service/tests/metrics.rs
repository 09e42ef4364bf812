//! `GET /metrics`: the exposition parses and its series follow the requests.
//! A test binary of its own, because the metrics recorder is process-wide.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, valid_order};
use reqwest::StatusCode;
use test_support::{Exposition, MockKafka};

async fn scrape(app: &TestApp) -> Exposition {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    Exposition::parse(&response.text().await.unwrap()).expect("the exposition parses")
}

#[tokio::test]
async fn metrics_count_every_outcome_of_post_orders_and_report_librdkafka_statistics() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &["--delivery-timeout-ms", "1000"]).await;
    app.wait_ready().await;

    assert_eq!(
        app.post_order(&valid_order()).await.status(),
        StatusCode::CREATED
    );
    let malformed = app.post_raw(Some("application/json"), "{").await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    let metrics = scrape(&app).await;
    let published = |result| metrics.value("orders_published_total", &[("result", result)]);
    assert_eq!(published("acked"), Some(1.0));
    assert_eq!(published("rejected"), Some(1.0));
    assert_eq!(published("failed"), None);
    let requests = |status| {
        metrics.value(
            "http_requests_total",
            &[("method", "POST"), ("route", "/orders"), ("status", status)],
        )
    };
    assert_eq!(requests("201"), Some(1.0));
    assert_eq!(requests("400"), Some(1.0));
    assert_eq!(
        metrics.value("kafka_ack_duration_seconds_count", &[]),
        Some(1.0)
    );
    assert_eq!(
        metrics.value("http_requests_in_flight", &[]),
        Some(1.0),
        "the scrape itself"
    );

    // librdkafka reports statistics every few seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = scrape(&app).await;
        let rtt = metrics.value("kafka_broker_rtt_seconds", &[("client", "producer")]);
        let queue = metrics.value("kafka_producer_queue_messages", &[]);
        if rtt.is_some() && queue == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no librdkafka statistics: {rtt:?}, {queue:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    kafka.cluster.broker_down(1).unwrap();
    let refused = app.post_order(&valid_order()).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let metrics = scrape(&app).await;
    assert_eq!(
        metrics.value("orders_published_total", &[("result", "failed")]),
        Some(1.0)
    );
    kafka.cluster.broker_up(1).unwrap();
    app.shut_down().await;
}
