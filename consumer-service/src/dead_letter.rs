//! Republishing records the service cannot process to the dead-letter topic,
//! with headers that say why and where they came from.

use std::time::Duration;

use order_contract::headers;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use service_kit::ServiceContext;
use service_kit::kafka::{ClientError, ClientSettings};
use tokio_util::sync::CancellationToken;

use crate::backoff::{Backoff, Interrupted};
use crate::config::Config;

/// Producer for the dead-letter topic.
pub struct DeadLetters {
    producer: FutureProducer<ServiceContext>,
    topic: String,
}

impl DeadLetters {
    /// Creates the producer; does not wait for the broker.
    pub fn new(config: &Config) -> Result<Self, ClientError> {
        Ok(Self {
            producer: client_config(config).create(ServiceContext::default())?,
            topic: config.dlq_topic.clone(),
        })
    }

    /// Writes a copy of `message` with `reason` to the dead-letter topic and
    /// retries with capped backoff until the broker acknowledged it, or
    /// `cancel` fired: then the record was not dead-lettered.
    ///
    /// A copy the producer or the topic refuses as it is (larger than
    /// `message.max.bytes`, say) would be refused forever and block its
    /// partition, so it is dead-lettered once more without its payload.
    pub async fn send(
        &self,
        message: &impl Message,
        reason: &str,
        cancel: &CancellationToken,
    ) -> Result<(), Interrupted> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let mut with_payload = true;
        loop {
            let error = match self.try_send(message, reason, with_payload).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            if with_payload && refused_as_is(&error) {
                tracing::error!(
                    dlq_topic = %self.topic,
                    partition = message.partition(),
                    offset = message.offset(),
                    payload_bytes = message.payload().map_or(0, <[u8]>::len),
                    %error,
                    "the dead-letter topic refused the record; dead-lettering it without its payload"
                );
                with_payload = false;
                continue;
            }
            tracing::error!(
                dlq_topic = %self.topic,
                partition = message.partition(),
                offset = message.offset(),
                %error,
                retry_in_ms = backoff.next().as_millis(),
                "cannot write to the dead-letter topic"
            );
            backoff.wait(cancel).await?;
        }
    }

    async fn try_send(
        &self,
        message: &impl Message,
        reason: &str,
        with_payload: bool,
    ) -> Result<(), KafkaError> {
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let mut dlq_headers = OwnedHeaders::new();
        if let Some(original) = message.headers() {
            for header in original.iter() {
                dlq_headers = dlq_headers.insert(header);
            }
        }
        for (key, value) in [
            (headers::DLQ_REASON, reason),
            (headers::DLQ_SOURCE_TOPIC, message.topic()),
            (headers::DLQ_SOURCE_PARTITION, &partition),
            (headers::DLQ_SOURCE_OFFSET, &offset),
        ] {
            dlq_headers = dlq_headers.insert(Header {
                key,
                value: Some(value),
            });
        }
        if !with_payload {
            dlq_headers = dlq_headers.insert(Header {
                key: headers::DLQ_PAYLOAD_OMITTED,
                value: Some(&message.payload().map_or(0, <[u8]>::len).to_string()),
            });
        }
        let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(dlq_headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload().filter(|_| with_payload) {
            record = record.payload(payload);
        }
        self.producer
            .send(record, Duration::ZERO)
            .await
            .map(|_| ())
            .map_err(|(error, _)| error)
    }
}

/// Errors about the record itself, which no retry of the same record fixes.
fn refused_as_is(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
        )
    )
}

/// Dead letters get the same durability as orders: `acks=all`, idempotent.
fn client_config(config: &Config) -> ClientSettings {
    config.kafka.client_config([
        ("client.id", "consumer-service-dlq".to_owned()),
        ("acks", "all".to_owned()),
        ("enable.idempotence", "true".to_owned()),
        ("message.timeout.ms", config.delivery_timeout_ms.to_string()),
    ])
}
