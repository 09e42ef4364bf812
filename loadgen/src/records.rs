//! One record at a time, for experiments: `loadgen send` writes one exactly
//! as given, `loadgen show` prints records with their keys and headers.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::consumer::Consumer;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset};
use serde_json::{Map, Value, json};

/// Writes `value` (keyed by `key`) to `topic`; returns its partition and offset.
///
/// # Errors
/// If the producer cannot be created or the broker does not acknowledge.
pub async fn send(
    brokers: &str,
    topic: &str,
    key: Option<&str>,
    value: &str,
) -> anyhow::Result<(i32, i64)> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .create()
        .context("cannot create the Kafka producer")?;
    let mut record = FutureRecord::to(topic).payload(value);
    if let Some(key) = key {
        record = record.key(key);
    }
    let delivery = producer
        .send(record, Duration::from_secs(10))
        .await
        .map_err(|(error, _)| error)
        .context("the broker did not acknowledge the record")?;
    Ok((delivery.partition, delivery.offset))
}

/// Prints the first `count` records of `topic`, one JSON object per line:
/// partition, offset, key, headers and value (as text).
///
/// # Errors
/// If the consumer cannot be set up, or `count` records do not arrive
/// within `timeout`.
pub fn show(brokers: &str, topic: &str, count: u64, timeout: Duration) -> anyhow::Result<()> {
    let consumer = crate::drain::reader(brokers, topic, |_, _| Ok(Offset::Beginning))?;
    let deadline = Instant::now() + timeout;
    let mut shown = 0;
    while shown < count {
        if Instant::now() > deadline {
            bail!("read {shown} of {count} records of {topic} in {timeout:?}");
        }
        let Some(record) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let record = record.context("consumer error")?;
        let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
        let headers: Map<String, Value> = record
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| (h.key.to_owned(), json!(text(h.value))))
                    .collect()
            })
            .unwrap_or_default();
        let line = json!({
            "partition": record.partition(),
            "offset": record.offset(),
            "key": text(record.key()),
            "headers": headers,
            "value": text(record.payload()),
        });
        println!("{line}");
        shown += 1;
    }
    consumer.unassign()?;
    Ok(())
}
