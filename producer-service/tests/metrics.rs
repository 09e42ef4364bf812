//! `GET /metrics`: the exposition parses and its series follow the requests.
//! A test binary of its own, because the metrics recorder is process-wide.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, read_answer, stalled_upload, valid_order};
use reqwest::StatusCode;
use test_support::{Exposition, MockKafka};

async fn scrape(app: &TestApp) -> Exposition {
    let response = app.get_management("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    Exposition::parse(&response.text().await.unwrap()).expect("the exposition parses")
}

/// Scrapes until `ready` holds.
async fn scrape_until(app: &TestApp, ready: impl Fn(&Exposition) -> bool) -> Exposition {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = scrape(app).await;
        if ready(&metrics) {
            return metrics;
        }
        assert!(Instant::now() < deadline, "never ready: {metrics:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_count_every_outcome_of_post_orders_and_report_librdkafka_statistics() {
    let kafka = MockKafka::start();
    let mut app = TestApp::spawn(
        &kafka,
        &[
            "--delivery-timeout-ms",
            "1000",
            "--request-timeout-ms",
            "2000",
            "--max-in-flight-orders",
            "1",
            "--api-tokens",
            "test-token",
        ],
    )
    .await;
    app.wait_ready().await;
    let unauthenticated = app.post_order(&valid_order()).await;
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let token = "authorization: Bearer test-token\r\n";
    app.authorize("test-token");

    assert_eq!(
        app.post_order(&valid_order()).await.status(),
        StatusCode::CREATED
    );
    let malformed = app.post_raw(Some("application/json"), "{").await;
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    // A stalled upload holds the one in-flight place until it times out;
    // an order meanwhile is shed.
    let stalled = stalled_upload(app.addr, token).await;
    scrape_until(&app, |m| {
        m.value("http_requests_in_flight", &[]) == Some(1.0) // scrapes are not counted
    })
    .await;
    let shed = app.post_order(&valid_order()).await;
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(read_answer(stalled).await.starts_with("HTTP/1.1 408"));

    let metrics = scrape(&app).await;
    let published = |result| metrics.value("orders_published_total", &[("result", result)]);
    assert_eq!(published("acked"), Some(1.0));
    assert_eq!(published("rejected"), Some(4.0), "401, 400, 503 and 408");
    // Every outcome's series exists from the start, so that `rate()` sees
    // the first failure as an increase from 0.
    assert_eq!(published("failed"), Some(0.0));
    let requests = |status| {
        metrics.value(
            "http_requests_total",
            &[("method", "POST"), ("route", "/orders"), ("status", status)],
        )
    };
    for status in ["201", "400", "401", "408", "503"] {
        assert_eq!(requests(status), Some(1.0), "{status}");
    }
    assert_eq!(
        metrics.value("kafka_ack_duration_seconds_count", &[]),
        Some(1.0)
    );
    assert_eq!(
        metrics.value("http_requests_in_flight", &[]),
        Some(0.0),
        "the management listener's scrape is not an API request"
    );

    // librdkafka reports statistics every few seconds.
    scrape_until(&app, |metrics| {
        let rtt = metrics.value("kafka_broker_rtt_seconds", &[("client", "producer")]);
        rtt.is_some() && metrics.value("kafka_producer_queue_messages", &[]) == Some(0.0)
    })
    .await;

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
