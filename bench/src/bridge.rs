//! The Strimzi Kafka Bridge, the HTTP front for Kafka users would compare
//! us with: run by `scripts/strimzi-bridge.sh` (which becomes its JVM), and
//! driven one record per request, `POST /topics/{topic}` with a one-record
//! `records` array keyed by the order id, the bridge's equivalent of
//! `POST /orders`.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use loadgen::orders::request_body;
use loadgen::run::{Answer, Target};
use order_contract::Order;

use crate::service::Service;

/// The bridge's content type for records whose key and value are JSON.
pub const CONTENT_TYPE: &str = "application/vnd.kafka.json.v2+json";

/// Starts the bridge on `port` against `brokers`, its JVM limited to the
/// cores this machine has, as our service gets them.
///
/// # Errors
/// If the script cannot be started.
pub fn start(brokers: &str, port: u16, log: PathBuf) -> anyhow::Result<Service> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/strimzi-bridge.sh");
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut command = std::process::Command::new(script);
    command
        .env("KAFKA_BOOTSTRAP", brokers)
        .env("BRIDGE_PORT", port.to_string())
        .env(
            "BRIDGE_JAVA_OPTS",
            format!("-XX:ActiveProcessorCount={cores}"),
        );
    Service::spawn(command, log).context("Strimzi Kafka Bridge")
}

/// The body of a `records` request: each order keyed by its id, its value
/// the same JSON our service takes.
pub fn records_body<'a>(orders: impl IntoIterator<Item = &'a Order>) -> Vec<u8> {
    let mut body = b"{\"records\":[".to_vec();
    for (i, order) in orders.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(format!("{{\"key\":\"{}\",\"value\":", order.order_id).as_bytes());
        body.extend_from_slice(&request_body(order));
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    body
}

/// How many records of a 200 answer's `offsets` were stored: each entry
/// has an `offset`, or an `error_code` when that record failed.
pub fn stored_records(body: &[u8]) -> u64 {
    let Ok(answer) = serde_json::from_slice::<serde_json::Value>(body) else {
        return 0;
    };
    answer["offsets"].as_array().map_or(0, |offsets| {
        offsets
            .iter()
            .filter(|entry| entry.get("offset").is_some() && entry.get("error_code").is_none())
            .count() as u64
    })
}

/// One order per request to the bridge.
pub struct BridgeTarget {
    client: reqwest::Client,
    url: String,
}

impl BridgeTarget {
    /// A client for `topic` on the bridge at `base_url`.
    ///
    /// # Errors
    /// If the HTTP client cannot be built.
    pub fn new(base_url: &str, topic: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            url: format!("{base_url}/topics/{topic}"),
        })
    }
}

impl Target for BridgeTarget {
    async fn send(&self, order: &Order) -> Answer {
        let request = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(records_body([order]));
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap_or_default();
                let stored = status == 200 && stored_records(&body) == 1;
                Answer {
                    label: if stored {
                        Cow::Borrowed("200")
                    } else {
                        Cow::Owned(format!("{status} not stored"))
                    },
                    stored,
                }
            }
            Err(error) => Answer {
                label: Cow::Borrowed(if error.is_timeout() {
                    "error: timeout"
                } else {
                    "error: other"
                }),
                stored: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use loadgen::orders::OrderGen;

    use super::*;

    #[test]
    fn a_records_body_keys_each_order_by_its_id_and_parses_as_json() {
        let mut orders = OrderGen::new(1);
        let batch = [orders.next_order(), orders.next_order()];
        let body: serde_json::Value = serde_json::from_slice(&records_body(&batch)).unwrap();
        let records = body["records"].as_array().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1]["key"], batch[1].order_id.to_string());
        assert_eq!(records[1]["value"]["customer_id"], batch[1].customer_id);
    }

    #[test]
    fn only_offsets_without_an_error_count_as_stored() {
        let answer =
            br#"{"offsets":[{"partition":1,"offset":7},{"error_code":503,"message":"down"}]}"#;
        assert_eq!(stored_records(answer), 1);
        assert_eq!(stored_records(b"not json"), 0);
    }
}
