//! At least once across a shutdown: a record whose retries SIGTERM
//! interrupts is neither processed nor committed past, so the next consumer
//! of the group receives it; and the final commit waits no longer than its
//! own timeout.
//!
//! The record after it waits on the same partition, already fetched. Before
//! the fix the loop went round once more and, half the time, processed that
//! record and stored an offset past the interrupted one; several rounds make
//! such a regression fail with near certainty.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use consumer_service::{Config, Position, Process, ProcessError};
use order_contract::Order;
use rdkafka::message::OwnedHeaders;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use test_support::{MockKafka, ServiceProcess, order, processed, publish_order};
use tokio::sync::{Notify, oneshot};

const ROUNDS: usize = 4;
const WAIT: Duration = Duration::from_secs(30);
/// Both records go to the partition of this key, one after the other.
const KEY: &[u8] = b"one-partition";

fn publish_on_one_partition(kafka: &MockKafka, payloads: &[&[u8]]) {
    for payload in payloads {
        test_support::produce(
            &kafka.bootstrap,
            "orders",
            Some(KEY),
            payload,
            OwnedHeaders::new(),
        );
    }
}

/// A business step that always fails for customer `broken` and records the
/// customers of the orders it processed, in order.
#[derive(Clone, Default)]
struct Recorder {
    processed: Arc<Mutex<Vec<String>>>,
    failed: Arc<Notify>,
}

impl Process for Recorder {
    async fn process(&self, order: &Order, _at: Position) -> Result<(), ProcessError> {
        if order.customer_id == "broken" {
            self.failed.notify_one();
            return Err(ProcessError("the ledger is down".to_owned()));
        }
        self.processed
            .lock()
            .unwrap()
            .push(order.customer_id.clone());
        Ok(())
    }
}

impl Recorder {
    fn processed(&self) -> Vec<String> {
        self.processed.lock().unwrap().clone()
    }
}

/// Runs the consumer in-process until the returned sender fires.
fn start(
    kafka: &MockKafka,
    recorder: Recorder,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let config = Config::try_parse_from([
        "consumer-service",
        "--kafka-brokers",
        &kafka.bootstrap,
        "--process-attempts",
        "1000",
        "--kafka-properties",
        common::GROUP_TIMING,
    ])
    .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let consumer = tokio::spawn(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        consumer_service::serve_with(listener, config, recorder, async {
            let _ = stopped.await;
        })
        .await
    });
    (stop, consumer)
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_during_a_processing_retry_leaves_the_order_to_the_next_consumer() {
    for round in 1..=ROUNDS {
        let kafka = MockKafka::start();
        publish_on_one_partition(
            &kafka,
            &[&order("broken").encode(), &order("after").encode()],
        );

        let first = Recorder::default();
        let (stop, consumer) = start(&kafka, first.clone());
        tokio::time::timeout(WAIT, first.failed.notified())
            .await
            .expect("the first attempt fails");
        // The failed order now waits in its retry backoff.
        stop.send(()).unwrap();
        consumer.await.unwrap().expect("a clean shutdown");
        assert_eq!(
            first.processed(),
            Vec::<String>::new(),
            "round {round}: nothing after the interrupted order was processed"
        );

        // The next member of the group starts at the interrupted order.
        let second = Recorder::default();
        let (stop, consumer) = start(&kafka, second.clone());
        tokio::time::timeout(WAIT, second.failed.notified())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "round {round}: the interrupted order never reached the next consumer; it processed {:?}",
                    second.processed()
                )
            });
        stop.send(()).unwrap();
        consumer.await.unwrap().expect("a clean shutdown");
    }
}

#[test]
fn sigterm_during_a_dead_letter_outage_leaves_the_poison_record_to_the_next_consumer() {
    for round in 1..=ROUNDS {
        let kafka = MockKafka::start();
        let after = order("after");
        publish_on_one_partition(&kafka, &[b"not an order", &after.encode()]);
        // Every produce request fails from now on: the dead-letter topic is
        // out of reach (the consumer writes nothing else).
        kafka.cluster.request_errors(
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 1000],
        );

        let mut first = start_binary(&kafka);
        first.wait_for_message("cannot write to the dead-letter topic");
        first.stop();
        assert_eq!(
            processed(&mut first).len(),
            0,
            "round {round}: nothing after the poison record was processed"
        );

        kafka.cluster.clear_request_errors(RDKafkaApiKey::Produce);
        let mut second = start_binary(&kafka);
        let id = after.order_id.to_string();
        second.wait_for("the order after the poison record", WAIT, |line| {
            line["order_id"] == id.as_str()
        });
        // Its offset precedes the order's, so it was handled first.
        let poison = second.logged("poison record; dead-lettering it");
        assert_eq!(
            poison.len(),
            1,
            "round {round}: the next consumer dead-lettered the poison record"
        );
        assert_eq!(poison[0]["key"], "one-partition");
        second.stop();
    }
}

fn start_binary(kafka: &MockKafka) -> ServiceProcess {
    common::start_consumer(kafka, "", &[("DELIVERY_TIMEOUT_MS", "1000")])
}

#[test]
fn the_final_commit_waits_for_an_unreachable_coordinator_no_longer_than_its_timeout() {
    let kafka = MockKafka::start();
    let before = order("before-the-outage");
    publish_order(&kafka.bootstrap, &before);
    // The default session timeout, 45 s: how long librdkafka alone waits
    // for a coordinator before it even sends the final commit. No periodic
    // commit, so that the final one has an offset to commit.
    let mut consumer = common::start_consumer(
        &kafka,
        "session.timeout.ms=45000;heartbeat.interval.ms=3000",
        &[
            ("COMMIT_INTERVAL_MS", "600000"),
            ("FINAL_COMMIT_TIMEOUT_MS", "2000"),
        ],
    );
    let id = before.order_id.to_string();
    consumer.wait_for("the order", WAIT, |line| line["order_id"] == id.as_str());

    kafka.cluster.broker_down(1).unwrap();
    let stopping = Instant::now();
    let status = consumer.terminate(Duration::from_secs(20));
    let took = stopping.elapsed();
    assert!(status.success(), "exit status {status}");
    let gave_up = consumer.wait_for_message(
        "the final commit and leaving the group did not finish in time; exiting without them, so the next owner may reprocess records",
    );
    assert_eq!(gave_up["level"], "ERROR");
    println!("stopped {took:?} after SIGTERM");
}
