//! What the tests read from a running cluster: replica state, leaders, the
//! group coordinator, watermarks, committed offsets and the records.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::Broker;

impl Broker {
    /// Waits until every partition of `topic` has all its replicas in sync.
    ///
    /// # Panics
    /// If that takes longer than two minutes.
    pub fn wait_in_sync(&self, topic: &str) {
        let client = self.internal_client();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let in_sync = client
                .fetch_metadata(Some(topic), Duration::from_secs(5))
                .is_ok_and(|metadata| {
                    metadata.topics()[0].partitions().iter().all(|p| {
                        p.error().is_none()
                            && p.leader() >= 0
                            && p.isr().len() == p.replicas().len()
                    })
                });
            if in_sync {
                return;
            }
            assert!(Instant::now() < deadline, "{topic} never got back in sync");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The leader of the partition of `topic` that holds the most records.
    pub fn leader_of_busiest_partition(&self, topic: &str) -> i32 {
        let client = self.internal_client();
        let metadata = client
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        metadata.topics()[0]
            .partitions()
            .iter()
            .max_by_key(|p| {
                client
                    .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                    .map_or(0, |(_, high)| high)
            })
            .map(|p| p.leader())
            .expect("the topic has partitions")
    }

    /// The node that coordinates consumer group `group`, from Kafka's
    /// consumer-group tool.
    ///
    /// # Panics
    /// If the tool fails or names no coordinator.
    pub fn coordinator(&self, group: &str) -> i32 {
        let output = self
            .tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand")
            .arg("--bootstrap-server")
            .arg(&self.internal)
            .args(["--describe", "--state", "--group", group])
            .output()
            .expect("java runs the consumer-group tool");
        let text = String::from_utf8_lossy(&output.stdout);
        // A row names the coordinator as `host:port (id)`.
        text.lines()
            .find_map(|line| {
                let open = line.find(" (")?;
                let close = line[open..].find(')')? + open;
                line[open + 2..close].parse().ok()
            })
            .unwrap_or_else(|| panic!("no coordinator in: {text}"))
    }

    /// The number of records in `topic`, from the partitions' watermarks.
    pub fn watermark_count(&self, topic: &str) -> i64 {
        crate::count(&self.internal, topic)
    }

    /// The end offset (high watermark) of each partition of `topic` that
    /// holds records.
    pub fn end_offsets(&self, topic: &str) -> HashMap<i32, i64> {
        let client = self.internal_client();
        (0..self.partitions(topic))
            .filter_map(|partition| {
                let (_, high) = client
                    .fetch_watermarks(topic, partition, Duration::from_secs(10))
                    .expect("watermarks");
                (high > 0).then_some((partition, high))
            })
            .collect()
    }

    /// The offsets `group` committed on `topic`, by partition.
    pub fn committed_offsets(&self, group: &str, topic: &str) -> HashMap<i32, i64> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.internal)
            .set("group.id", group)
            .create()
            .expect("client created");
        let mut partitions = TopicPartitionList::new();
        for p in 0..self.partitions(topic) {
            partitions.add_partition(topic, p);
        }
        let committed = client
            .committed_offsets(partitions, Duration::from_secs(10))
            .expect("committed offsets");
        committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) => Some((e.partition(), offset)),
                _ => None,
            })
            .collect()
    }

    fn partitions(&self, topic: &str) -> i32 {
        let metadata = self
            .internal_client()
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        i32::try_from(metadata.topics()[0].partitions().len()).expect("partition count")
    }

    /// Reads every record of `topic` (up to `count`).
    pub fn read(&self, topic: &str, count: usize) -> Vec<rdkafka::message::OwnedMessage> {
        crate::read(&self.internal, topic, count, Duration::from_secs(30))
    }
}
