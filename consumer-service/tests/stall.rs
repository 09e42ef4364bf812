//! Readiness that tells the truth: a consumer whose business step hangs,
//! with records waiting, turns not ready after `STALL_TIMEOUT_MS`, and ready
//! again once it handles a record. In-process with a test processor (a
//! binary of its own: the metrics are process-wide).

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use consumer_service::{Config, Position, Process, ProcessError};
use order_contract::Order;
use test_support::{Exposition, MockKafka};
use tokio::sync::Semaphore;

/// Handles an order only when the test lets it.
#[derive(Clone)]
struct Gated(Arc<Semaphore>);

impl Process for Gated {
    async fn process(&self, _order: &Order, _at: Position) -> Result<(), ProcessError> {
        self.0.acquire().await.expect("never closed").forget();
        Ok(())
    }
}

/// The status and body of `/readyz`, and the `kafka_consumer_stalled` gauge.
async fn probe(management: &str) -> (u16, String, Option<f64>) {
    let ready = reqwest::get(format!("{management}/readyz")).await.unwrap();
    let status = ready.status().as_u16();
    let body = ready.text().await.unwrap();
    let metrics = reqwest::get(format!("{management}/metrics")).await.unwrap();
    let metrics = Exposition::parse(&metrics.text().await.unwrap()).unwrap();
    (status, body, metrics.value("kafka_consumer_stalled", &[]))
}

/// Probes until `wanted` holds, for at most `within`.
async fn probe_until(
    management: &str,
    within: Duration,
    wanted: impl Fn(&(u16, String, Option<f64>)) -> bool,
) -> (u16, String, Option<f64>) {
    let deadline = Instant::now() + within;
    loop {
        let seen = probe(management).await;
        if wanted(&seen) {
            return seen;
        }
        assert!(Instant::now() < deadline, "last seen: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_with_records_waiting_and_no_progress_is_not_ready_until_it_moves_again() {
    let kafka = MockKafka::start();
    for customer in ["first", "second"] {
        test_support::publish_order(&kafka.bootstrap, &test_support::order(customer));
    }
    let stall_timeout = Duration::from_secs(2);
    let config = Config::try_parse_from([
        "consumer-service",
        "--kafka-brokers",
        &kafka.bootstrap,
        "--stall-timeout-ms",
        &stall_timeout.as_millis().to_string(),
    ])
    .unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let management = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = tokio::spawn(consumer_service::serve_with(
        listener,
        config,
        Gated(Arc::clone(&gate)),
        async {
            let _ = stopped.await;
        },
    ));

    // Stalled once assigned: joining the group (seconds), then the stall
    // timeout, plus room. (The ready moment between the two can be shorter
    // than a probe's round on a busy machine, so it is not waited for.)
    let within = Duration::from_secs(30) + stall_timeout;
    let (_, body, gauge) = probe_until(&management, within, |(status, body, _)| {
        *status == 503 && body.contains("stalled")
    })
    .await;
    assert!(body.contains("stalled"), "{body}");
    assert_eq!(gauge, Some(1.0));

    // Moving again: one record handled makes it ready.
    gate.add_permits(2);
    let (_, _, gauge) = probe_until(&management, Duration::from_secs(10), |(status, ..)| {
        *status == 200
    })
    .await;
    assert_eq!(gauge, Some(0.0));
    stop.send(()).unwrap();
    consumer.await.unwrap().unwrap();
}
