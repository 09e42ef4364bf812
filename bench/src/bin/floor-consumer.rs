//! The consumer floor: the least code an engineer would write to consume
//! the orders topic with consumer-service's guarantees and none of the
//! rest. A benchmark reference, not a product: each record decoded with
//! serde, one JSON line per order to a buffered standard output, its offset
//! stored after the line is written, with consumer-service's commit and
//! fetch settings (auto-commit of stored offsets, 2 MiB queued). No
//! metrics, tracing, retries, dead letters or readiness.
//!
//! `KAFKA_BROKERS`, `ORDERS_TOPIC` and `CONSUMER_GROUP` say where. Its lines
//! carry `timestamp` and `message` as consumer-service's JSON logs do, so
//! the benchmark reads both the same way.

use std::io::Write as _;
use std::time::Duration;

use order_contract::Order;
use rdkafka::consumer::{Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, ClientContext};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Says when partitions were assigned, as consumer-service does.
struct Assignments;

impl ClientContext for Assignments {}

impl ConsumerContext for Assignments {
    fn post_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if matches!(rebalance, Rebalance::Assign(_)) {
            println!(
                r#"{{"timestamp":"{}","message":"partitions assigned"}}"#,
                now()
            );
        }
    }
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("a UTC time formats")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name);
    let consumer: StreamConsumer<Assignments> = ClientConfig::new()
        .set("bootstrap.servers", env("KAFKA_BROKERS")?)
        .set("group.id", env("CONSUMER_GROUP")?)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "5000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("queued.max.messages.kbytes", "2048")
        .set("fetch.queue.backoff.ms", "10")
        .create_with_context(Assignments)?;
    consumer.subscribe(&[&env("ORDERS_TOPIC")?])?;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let message = tokio::select! {
            _ = term.recv() => break,
            received = tokio::time::timeout(Duration::from_millis(100), consumer.recv()) => received,
        };
        // Nothing for a moment: let what was written reach the file.
        let Ok(message) = message else {
            out.flush()?;
            continue;
        };
        let message = message?;
        match serde_json::from_slice::<Order>(message.payload().unwrap_or_default()) {
            Ok(order) => writeln!(
                out,
                r#"{{"timestamp":"{}","message":"order processed","order_id":"{}","partition":{},"offset":{}}}"#,
                now(),
                order.order_id,
                message.partition(),
                message.offset()
            )?,
            Err(error) => writeln!(
                out,
                r#"{{"timestamp":"{}","message":"unreadable record","error":{}}}"#,
                now(),
                serde_json::Value::String(error.to_string())
            )?,
        }
        consumer.store_offset_from_message(&message)?;
    }
    out.flush()?;
    Ok(())
}
