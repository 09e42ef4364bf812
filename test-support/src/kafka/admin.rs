//! What the tests do to a running cluster's data, as an operator or
//! retention would: delete records, delete a topic and create it again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::Broker;

impl Broker {
    /// Deletes the records of `topic` below `before` (partition → offset),
    /// as retention or `kafka-delete-records` would.
    ///
    /// # Panics
    /// If Kafka refuses for any partition.
    pub fn delete_records(&self, topic: &str, before: &HashMap<i32, i64>) {
        let mut partitions = rdkafka::TopicPartitionList::new();
        for (partition, offset) in before {
            partitions
                .add_partition_offset(topic, *partition, rdkafka::Offset::Offset(*offset))
                .expect("a valid offset");
        }
        let deleted = block_on(
            self.admin()
                .delete_records(&partitions, &AdminOptions::new()),
        )
        .expect("records deleted");
        for element in deleted.elements() {
            assert!(element.error().is_ok(), "{element:?}");
        }
    }

    /// Deletes `topic` and creates it again with `partitions` partitions: the
    /// same name, a new topic id, empty logs.
    ///
    /// # Panics
    /// If Kafka refuses, or the new topic cannot be created within 30 s.
    pub fn recreate_topic(&self, topic: &str, partitions: i32) {
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results =
            block_on(self.admin().delete_topics(&[topic], &options)).expect("delete topics");
        for result in results {
            result.unwrap_or_else(|(name, code)| panic!("deleting {name}: {code}"));
        }
        // Deletion completes in the background; until then, creating the
        // name is refused.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.cluster.create_topic(topic, partitions) {
                Ok(()) => return,
                Err(error) if Instant::now() < deadline && being_deleted(&error) => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(error) => panic!("creating {topic} again: {error:#}"),
            }
        }
    }

    fn admin(&self) -> AdminClient<DefaultClientContext> {
        self.cluster.admin_config().create().expect("admin client")
    }
}

fn being_deleted(error: &local_kafka::Error) -> bool {
    let text = format!("{error:#}");
    text.contains(&RDKafkaErrorCode::TopicAlreadyExists.to_string())
        || text.contains("marked for deletion")
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}
