//! Shutdown drains: every order in flight when the signal comes is answered
//! and stored, and no connection is accepted after it. A test binary of its
//! own, because it watches the process-wide in-flight gauge.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, count_records, valid_order};
use reqwest::StatusCode;
use test_support::{Exposition, MockKafka};

const ORDERS: usize = 20;

#[tokio::test]
async fn shutdown_waits_for_accepted_orders_and_publishes_all_of_them() {
    let kafka = MockKafka::start();
    let app = TestApp::spawn(&kafka, &[]).await;
    app.wait_ready().await;
    // Slow acknowledgements keep requests in flight when the signal arrives.
    kafka
        .cluster
        .broker_round_trip_time(1, Duration::from_millis(500))
        .unwrap();

    let requests: Vec<_> = (0..ORDERS)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/orders"))
                .json(&valid_order())
                .send();
            tokio::spawn(request)
        })
        .collect();
    wait_until_in_flight(&app, ORDERS).await;
    let addr = app.addr;
    app.shut_down().await;

    for request in requests {
        let response = request.await.unwrap().expect("in-flight request answered");
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
    let count = count_records(&kafka, "orders").await;
    assert_eq!(count, i64::try_from(ORDERS).unwrap());
}

/// Waits until the service handles `orders` requests (the scrape is on the
/// management listener, which is not counted).
async fn wait_until_in_flight(app: &TestApp, orders: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let wanted = Some(f64::from(u32::try_from(orders).unwrap()));
    loop {
        let text = app.get_management("/metrics").await.text().await.unwrap();
        let metrics = Exposition::parse(&text).expect("the exposition parses");
        let in_flight = metrics.value("http_requests_in_flight", &[]);
        if in_flight == wanted {
            return;
        }
        assert!(Instant::now() < deadline, "in flight: {in_flight:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
