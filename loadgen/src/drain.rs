//! The consumer baseline: a plain rdkafka consumer that reads a topic from
//! the beginning and drops every record, with librdkafka's default fetch
//! settings, as consumer-service uses them.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// How fast a topic was read.
#[derive(Debug, Clone, Copy)]
pub struct Drained {
    /// Records read.
    pub records: u64,
    /// From the first record to the last: connecting and fetching metadata
    /// are left out, as they are for consumer-service's group join.
    pub elapsed: Duration,
}

impl Drained {
    /// Records per second.
    pub fn rate(&self) -> f64 {
        crate::stats::rate(self.records.saturating_sub(1), self.elapsed)
    }
}

/// Reads `count` records of `topic` from the beginning and drops them.
///
/// # Errors
/// If the consumer cannot be set up, or `count` records do not arrive
/// within `timeout`.
pub fn drain(brokers: &str, topic: &str, count: u64, timeout: Duration) -> anyhow::Result<Drained> {
    let consumer = reader(brokers, topic, |_, _| Ok(Offset::Beginning))?;

    let deadline = Instant::now() + timeout;
    let mut first = None;
    let mut records = 0;
    while records < count {
        if Instant::now() > deadline {
            bail!("read {records} of {count} records of {topic} in {timeout:?}");
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_record)) => {
                first.get_or_insert_with(Instant::now);
                records += 1;
            }
            Some(Err(error)) => bail!("consumer error: {error}"),
            None => {}
        }
    }
    Ok(Drained {
        records,
        elapsed: first.map_or(Duration::ZERO, |first| first.elapsed()),
    })
}

/// A consumer outside any group, assigned every partition of `topic`, each
/// from the offset `start` picks for it.
pub(crate) fn reader(
    brokers: &str,
    topic: &str,
    start: impl Fn(&BaseConsumer, i32) -> anyhow::Result<Offset>,
) -> anyhow::Result<BaseConsumer> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        // Required by librdkafka even for assign(); never joined or committed.
        .set("group.id", "loadgen")
        .set("enable.auto.commit", "false")
        .create()
        .context("cannot create the consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("cannot read the metadata of {topic}"))?;
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        let offset = start(&consumer, partition.id())?;
        assignment.add_partition_offset(topic, partition.id(), offset)?;
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}
