//! Publishing orders to Kafka and knowing whether Kafka is reachable.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use metrics::Histogram;
use order_contract::{CONTENT_TYPE_JSON, Order, SCHEMA_VERSION, headers};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use service_kit::Readiness;
use service_kit::ServiceContext;
use service_kit::kafka::{ClientError, ClientSettings};
use service_kit::metrics::STATISTICS_INTERVAL_MS;

use crate::config::{Config, MAX_BATCH_ORDERS};

mod deliveries;
mod pending;

use deliveries::Deliveries;
use pending::{FollowUps, Pending};

/// Where the broker stored an acknowledged order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// Partition the order was written to.
    pub partition: i32,
    /// Its offset in that partition; `None` when the broker acknowledged
    /// the order without one: librdkafka treats a retry that the broker
    /// answers `DUPLICATE_SEQUENCE_NUMBER` (the first attempt was stored
    /// after all) as delivered, with no valid offset.
    pub offset: Option<i64>,
}

/// Why Kafka did not take an order. Every variant means "try again later".
/// A `QueueFull` order was never sent; after `TimedOut` or `Kafka` the order
/// may or may not be stored.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// librdkafka's local queue is full: the broker is slower than the load.
    #[error("the producer queue is full")]
    QueueFull,
    /// No acknowledgement within the delivery timeout (broker down or slow).
    #[error("the broker did not acknowledge the order within {0:?}")]
    TimedOut(Duration),
    /// The broker or client reported an error.
    #[error("Kafka refused the order: {0}")]
    Kafka(KafkaError),
}

impl PublishError {
    /// How long a client should wait before retrying.
    pub fn retry_after(&self) -> Duration {
        match self {
            Self::QueueFull => Duration::from_secs(1),
            Self::TimedOut(_) | Self::Kafka(_) => Duration::from_secs(5),
        }
    }

    /// Whether the order may have been stored although it was not
    /// acknowledged.
    pub fn may_be_stored(&self) -> bool {
        !matches!(self, Self::QueueFull)
    }
}

/// The service's one Kafka producer. librdkafka batches and pipelines sends
/// internally, so many requests share it concurrently. How many is bounded
/// by the HTTP layer (`MAX_IN_FLIGHT_ORDERS`) and by librdkafka's queue.
pub struct Publisher {
    producer: FutureProducer<ServiceContext>,
    topic: String,
    delivery_timeout: Duration,
    follow_ups: FollowUps,
    deliveries: Arc<Deliveries>,
}

impl Publisher {
    /// Creates the producer; does not wait for the broker.
    ///
    /// # Errors
    /// If librdkafka refuses the settings.
    pub fn new(config: &Config) -> Result<Self, ClientError> {
        let producer = client_config(config).create(ServiceContext::default())?;
        Ok(Self {
            producer,
            topic: config.orders_topic.clone(),
            delivery_timeout: config.delivery_timeout(),
            follow_ups: FollowUps::default(),
            deliveries: Arc::default(),
        })
    }

    /// Whether the service should get orders: the cluster answers the
    /// probe ([`Publisher::watch_cluster`]) and the last delivery did not
    /// fail.
    pub fn readiness(&self) -> Readiness {
        self.deliveries.readiness()
    }

    /// The topic orders go to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Publishes `order` keyed by its id, with the W3C `traceparent` that
    /// the consumer continues, and waits for the broker's acknowledgement.
    ///
    /// If the caller stops waiting (its client went away), the order is
    /// still delivered or fails: a task follows it to its end and logs the
    /// outcome with its `order_id`, so that an operator can match a stored
    /// order with an answer that was never received.
    pub async fn publish(&self, order: &Order, traceparent: &str) -> Result<Ack, PublishError> {
        let key = order.order_id.to_string();
        let payload = order.encode();
        let record = FutureRecord::to(&self.topic)
            .key(&key)
            .payload(&payload)
            .headers(
                OwnedHeaders::new_with_capacity(3)
                    .insert(Header {
                        key: headers::CONTENT_TYPE,
                        value: Some(CONTENT_TYPE_JSON),
                    })
                    .insert(Header {
                        key: headers::SCHEMA_VERSION,
                        value: Some(SCHEMA_VERSION),
                    })
                    .insert(Header {
                        key: headers::TRACEPARENT,
                        value: Some(traceparent),
                    }),
            );
        // `send_result` only enqueues: a full queue fails at once instead of
        // making the request wait for space.
        let delivery = self
            .producer
            .send_result(record)
            .map_err(|(error, _)| match error {
                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) => {
                    PublishError::QueueFull
                }
                error => PublishError::Kafka(error),
            })?;
        let mut pending = Pending {
            delivery: Some(delivery),
            order_id: order.order_id,
            timeout: self.delivery_timeout,
            follow_ups: &self.follow_ups,
            deliveries: &self.deliveries,
        };
        let sent = Instant::now();
        let delivered = pending.wait().await;
        if delivered.is_ok() {
            static ACK_DURATION: OnceLock<Histogram> = OnceLock::new();
            ACK_DURATION
                .get_or_init(|| metrics::histogram!("kafka_ack_duration_seconds"))
                .record(sent.elapsed());
        }
        delivered
    }

    /// Asks the cluster for the orders topic's metadata every few seconds (every
    /// second while not ready) and records the answer in
    /// [`Publisher::readiness`], until the task is aborted.
    pub fn watch_cluster(&self) -> tokio::task::JoinHandle<()> {
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        let deliveries = Arc::clone(&self.deliveries);
        let readiness = deliveries.readiness();
        tokio::spawn(async move {
            // Log changes only, so an outage is one line, not one per probe.
            let mut was_connected = None;
            loop {
                let (probe, probe_topic) = (producer.clone(), topic.clone());
                // fetch_metadata blocks, so it must not run on a runtime thread.
                let result =
                    tokio::task::spawn_blocking(move || topic_reachable(&probe, &probe_topic))
                        .await
                        .unwrap_or(Err(KafkaError::Canceled));
                let connected = result.is_ok();
                readiness.set_connected(connected);
                if connected {
                    deliveries.cluster_answered();
                }
                match result {
                    Ok(()) if was_connected != Some(true) => match readiness.not_ready() {
                        None => tracing::info!(%topic, "reached Kafka; ready"),
                        Some(reason) => {
                            tracing::info!(%topic, %reason, "reached Kafka; not ready yet")
                        }
                    },
                    Err(error) if was_connected != Some(false) => {
                        tracing::warn!(%topic, %error, "cannot reach Kafka or the topic; not ready");
                    }
                    _ => {}
                }
                was_connected = Some(connected);
                let ready = readiness.is_ready();
                tokio::time::sleep(Duration::from_secs(if ready { 5 } else { 1 })).await;
            }
        })
    }

    /// Waits up to `timeout` for every queued order to be acknowledged,
    /// then for the follow-ups of orders whose clients went away to log
    /// their ends; names in one line the orders it could not settle.
    ///
    /// # Errors
    /// If the flush did not deliver every queued order in time.
    pub async fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        let producer = self.producer.clone();
        let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .unwrap_or(Err(KafkaError::Canceled));
        // Once flushed, every report is in: the follow-ups only log.
        self.follow_ups
            .finish(flushed.is_ok(), Duration::from_secs(1))
            .await;
        flushed
    }
}

/// The producer settings: durable (`acks=all`), idempotent so retries never
/// duplicate or reorder, and bounded in time by the delivery timeout.
fn client_config(config: &Config) -> ClientSettings {
    config.kafka.client_config([
        ("client.id", "producer-service".to_owned()),
        ("acks", "all".to_owned()),
        ("enable.idempotence", "true".to_owned()),
        ("message.timeout.ms", config.delivery_timeout_ms.to_string()),
        // With several produce requests in flight, a failed one makes the
        // next ones fail out of sequence; after leader changes on a real
        // three-node cluster, some orders were then acknowledged with an
        // offset other than where they were stored (5 of 10 fault runs with
        // 5 in flight, none with 1; docs/delivery-guarantees.md). One
        // request at a time keeps the idempotent retries exact.
        ("max.in.flight.requests.per.connection", "1".to_owned()),
        // The HTTP layer bounds the orders whose requests wait; this bounds
        // the queue too when clients disconnect and their orders stay
        // queued. Twice the limit: an acknowledged order leaves the queue
        // only after its request was woken, which may already send the next.
        (
            "queue.buffering.max.messages",
            (2 * (config.max_in_flight_orders + config.max_in_flight_batches * MAX_BATCH_ORDERS))
                .to_string(),
        ),
        // Every client waits for its order's acknowledgement, so time spent
        // waiting for a fuller batch is latency: librdkafka's default 5 ms
        // was most of the median at a moderate rate (6.5 ms, against 3.1 ms
        // with 1 at 1,500 orders/s; BENCHMARKS.md). Under load batches fill
        // anyway, one request being in flight at a time: at 256 connections
        // 5 and 1 ms cost the same instructions per order.
        ("linger.ms", "1".to_owned()),
        // librdkafka backs off up to 10 s between reconnects; after a few
        // dropped connections that alone outlasts the delivery timeout.
        ("reconnect.backoff.max.ms", "1000".to_owned()),
        ("statistics.interval.ms", STATISTICS_INTERVAL_MS.to_owned()),
    ])
}

/// Fetches the topic's metadata: succeeds when a broker answers and knows the topic.
fn topic_reachable(
    producer: &FutureProducer<ServiceContext>,
    topic: &str,
) -> Result<(), KafkaError> {
    let metadata = producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(5))?;
    match metadata.topics().first().and_then(|t| t.error()) {
        None => Ok(()),
        Some(code) => Err(KafkaError::MetadataFetch(code.into())),
    }
}
