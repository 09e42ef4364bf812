//! The business step's failures: retried with backoff, then dead-lettered,
//! never dropped, and counted in `/metrics`. The consumer runs in-process
//! with a test processor (one test per binary: the metrics are process-wide).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use consumer_service::{Config, Position, Process, ProcessError};
use order_contract::{Order, headers};
use rdkafka::Message;
use test_support::{Exposition, MockKafka, header};

/// Fails every order of customer `broken`, and the first two attempts for
/// customer `flaky`; counts the calls per customer.
#[derive(Clone, Default)]
struct Flaky {
    calls: Arc<Mutex<HashMap<String, u32>>>,
    succeeded: Arc<Mutex<Vec<String>>>,
}

impl Process for Flaky {
    async fn process(&self, order: &Order, _at: Position) -> Result<(), ProcessError> {
        let calls = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(order.customer_id.clone()).or_default();
            *n += 1;
            *n
        };
        match order.customer_id.as_str() {
            "broken" => Err(ProcessError("the ledger is down".to_owned())),
            "flaky" if calls <= 2 => Err(ProcessError(format!("timeout #{calls}"))),
            _ => {
                self.succeeded
                    .lock()
                    .unwrap()
                    .push(order.customer_id.clone());
                Ok(())
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_order_is_retried_then_dead_lettered_later_orders_still_flow_and_metrics_count_it()
 {
    let kafka = MockKafka::start();
    for customer in ["flaky", "broken", "fine"] {
        test_support::publish_order(&kafka.bootstrap, &test_support::order(customer));
    }
    let config = Config::try_parse_from([
        "consumer-service",
        "--kafka-brokers",
        &kafka.bootstrap,
        "--process-attempts",
        "3",
    ])
    .unwrap();
    let processor = Flaky::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics_url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = tokio::spawn(consumer_service::serve_with(
        listener,
        config,
        processor.clone(),
        async {
            let _ = stopped.await;
        },
    ));

    let deadline = Instant::now() + Duration::from_secs(30);
    while processor.succeeded.lock().unwrap().len() < 2
        || processor.calls.lock().unwrap().get("broken") < Some(&3)
    {
        assert!(
            Instant::now() < deadline,
            "calls so far: {:?}",
            processor.calls.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bootstrap = kafka.bootstrap.clone();
    let dead = tokio::task::spawn_blocking(move || {
        test_support::read(&bootstrap, "orders.dlq", 1, Duration::from_secs(10))
    })
    .await
    .unwrap();
    let metrics = scrape_until(&metrics_url, |m| {
        // librdkafka reports statistics every few seconds.
        m.value("kafka_consumer_lag", &[("topic", "orders")]) == Some(0.0)
    })
    .await;
    stop.send(()).unwrap();
    consumer.await.unwrap().unwrap();

    let calls = processor.calls.lock().unwrap().clone();
    assert_eq!(calls["flaky"], 3, "two failures, then success");
    assert_eq!(calls["broken"], 3, "PROCESS_ATTEMPTS bounds the attempts");
    assert_eq!(calls["fine"], 1);
    let mut succeeded = processor.succeeded.lock().unwrap().clone();
    succeeded.sort();
    assert_eq!(succeeded, ["fine", "flaky"]);

    assert_eq!(dead.len(), 1, "only the broken order is dead-lettered");
    let reason = header(&dead[0], headers::DLQ_REASON).unwrap();
    assert_eq!(
        reason,
        "processing failed 3 times, last: the ledger is down"
    );
    assert!(
        dead[0]
            .payload()
            .is_some_and(|p| Order::decode(p).unwrap().customer_id == "broken")
    );

    let processed = |result| metrics.value("orders_processed_total", &[("result", result)]);
    assert_eq!(processed("ok"), Some(2.0));
    assert_eq!(
        processed("retried"),
        Some(4.0),
        "two for flaky, two for broken"
    );
    assert_eq!(processed("dead_lettered"), Some(1.0));
    assert_eq!(
        metrics.value("order_processing_duration_seconds_count", &[]),
        Some(3.0)
    );
    assert_eq!(
        metrics.value("kafka_consumer_assigned_partitions", &[]),
        Some(f64::from(test_support::ORDERS_PARTITIONS))
    );
    assert_eq!(
        metrics.value("kafka_consumer_rebalances_total", &[("kind", "assign")]),
        Some(1.0)
    );
    for partition in 0..test_support::ORDERS_PARTITIONS {
        let partition = partition.to_string();
        let lag = metrics.value("kafka_consumer_lag", &[("partition", &partition)]);
        assert_eq!(lag, Some(0.0), "partition {partition}");
    }
}

/// Scrapes `url` until `ready` holds for the exposition, which must parse.
async fn scrape_until(url: &str, ready: impl Fn(&Exposition) -> bool) -> Exposition {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        let metrics = Exposition::parse(&text).expect("the exposition parses");
        if ready(&metrics) {
            return metrics;
        }
        assert!(Instant::now() < deadline, "never ready:\n{text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
