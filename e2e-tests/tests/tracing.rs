//! Correlation end to end, on librdkafka's mock cluster with both release
//! binaries: the client's `traceparent` and `x-request-id` reach the
//! producer's log, the Kafka record and the consumer's log.

use std::time::Duration;

use e2e_tests::{GROUP, start_consumer_with, start_producer_with};
use test_support::MockKafka;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN_ID: &str = "00f067aa0ba902b7";

#[test]
fn one_trace_id_follows_an_order_from_the_request_to_the_consumer_log() {
    let kafka = MockKafka::start();
    let (mut producer, url) = start_producer_with(&kafka.bootstrap, &[]);
    let mut consumer = start_consumer_with(&kafka.bootstrap, GROUP);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let response = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/orders"))
            .header("content-type", "application/json")
            .header("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN_ID}-01"))
            .header("x-request-id", "checkout-7")
            .body(e2e_tests::order_body(1))
            .send()
            .await
            .unwrap()
    });
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], "checkout-7");
    let accepted: serde_json::Value = runtime.block_on(response.json()).unwrap();
    let order_id = accepted["order_id"].as_str().unwrap().to_owned();

    let published = producer.wait_for_message("order published");
    assert_eq!(published["order_id"], order_id.as_str());
    assert_eq!(published["span"]["trace_id"], TRACE_ID);
    assert_eq!(published["span"]["request_id"], "checkout-7");

    let record = test_support::read(&kafka.bootstrap, "orders", 1, Duration::from_secs(10));
    let traceparent = test_support::header(&record[0], order_contract::headers::TRACEPARENT)
        .expect("the record carries a traceparent");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[1], TRACE_ID, "same trace");
    assert_ne!(
        parts[2], CLIENT_SPAN_ID,
        "the producer's span is the parent"
    );

    let processed = consumer.wait_for("order processed", Duration::from_secs(60), |line| {
        line["message"] == "order processed" && line["order_id"] == order_id.as_str()
    });
    assert_eq!(processed["span"]["trace_id"], TRACE_ID);

    producer.stop();
    consumer.stop();
}
