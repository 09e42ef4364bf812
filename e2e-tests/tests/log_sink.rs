//! A log sink that takes nothing (a paused terminal, a stuck log shipper,
//! Docker's blocking log mode) costs log lines, never orders: the API keeps
//! answering, the dropped lines are counted, and SIGTERM still ends the
//! process within its documented bound.

use std::time::{Duration, Instant};

use e2e_tests::{Broker, order_body, start_producer};
use futures::StreamExt;
use test_support::{Exposition, SHUTDOWN_BOUND};

/// Orders posted while standard output is blocked: at about 300 bytes of
/// log a line, ten times what the pipe and the log buffer hold together.
const ORDERS: usize = 40_000;
/// The default `DELIVERY_TIMEOUT_MS`, plus its one-second guard and room
/// for a busy machine: no answer may take longer.
const ANSWER_BOUND: Duration = Duration::from_secs(10 + 1 + 5);

#[test]
fn with_standard_output_blocked_orders_are_still_answered_and_sigterm_still_exits() {
    let broker = Broker::start();
    let (mut producer, url) = start_producer(&broker);
    let management = producer.management_url();
    producer.block_output(true);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let statuses: Vec<Option<u16>> = runtime.block_on(async {
        let client = reqwest::Client::new();
        futures::stream::iter(0..ORDERS)
            .map(|n| {
                let request = client
                    .post(format!("{url}/orders"))
                    .header("content-type", "application/json")
                    .body(order_body(n))
                    .timeout(ANSWER_BOUND)
                    .send();
                async move { request.await.ok().map(|answer| answer.status().as_u16()) }
            })
            .buffer_unordered(16)
            .collect()
            .await
    });
    let created = statuses
        .iter()
        .filter(|status| **status == Some(201))
        .count();
    let metrics = runtime.block_on(async {
        let text = reqwest::get(format!("{management}/metrics")).await.unwrap();
        Exposition::parse(&text.text().await.unwrap()).unwrap()
    });
    let dropped = metrics.value("log_lines_dropped_total", &[]).unwrap_or(0.0);
    println!("{created} of {ORDERS} orders answered 201; {dropped} log lines dropped");
    assert_eq!(
        created, ORDERS,
        "every order answered 201 within {ANSWER_BOUND:?}"
    );
    assert!(dropped > 0.0, "the sink was blocked, so lines were dropped");

    let stopping = Instant::now();
    let status = producer.terminate(SHUTDOWN_BOUND);
    println!("exited after {:?}, {status}", stopping.elapsed());
    assert!(status.success(), "exit status {status}");
    producer.block_output(false);
}
