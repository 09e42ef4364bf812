//! Closed-loop HTTP load for the fault suite: clients that post orders one
//! after another until told to stop, recording every outcome, and the check
//! of those outcomes against what the topic holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::Message;
use serde_json::{Value, json};

use crate::{Answered, Ledger, Placement, Report};

/// One request of a load run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The client-chosen order id.
    pub order_id: String,
    /// HTTP status, or `None` when no answer came (connection refused or reset).
    pub status: Option<u16>,
    /// Where the order was stored, from a 201 body.
    pub placement: Option<Answered>,
    /// How long the request took.
    pub elapsed: Duration,
}

/// A valid order body with a fresh client-chosen `order_id`.
pub fn order_body(order_id: &str) -> Value {
    json!({
        "order_id": order_id,
        "customer_id": "cust-42",
        "currency": "EUR",
        "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price_cents": 1299}]
    })
}

/// Runs `workers` clients against `orders_url`, each posting orders one
/// after another, until `stop` is set; returns every outcome.
pub async fn run_until(orders_url: &str, workers: usize, stop: Arc<AtomicBool>) -> Vec<Outcome> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client");
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (client, url, stop) = (client.clone(), orders_url.to_owned(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let outcome = post_one(&client, &url).await;
                    if outcome.status.is_none() {
                        // Refused: the service is gone; do not spin.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    outcomes.push(outcome);
                }
                outcomes
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("load worker"));
    }
    all
}

async fn post_one(client: &reqwest::Client, url: &str) -> Outcome {
    let order_id = uuid::Uuid::now_v7().to_string();
    let started = Instant::now();
    let response = client.post(url).json(&order_body(&order_id)).send().await;
    let (status, placement) = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (Some(status), Answered::from_body(&body))
        }
        Err(_) => (None, None),
    };
    Outcome {
        order_id,
        status,
        placement,
        elapsed: started.elapsed(),
    }
}

/// How many outcomes have `status`.
pub fn count(outcomes: &[Outcome], status: Option<u16>) -> usize {
    outcomes.iter().filter(|o| o.status == status).count()
}

/// A ledger holding the 201 answers of `outcomes`.
pub fn acked(outcomes: &[Outcome]) -> Ledger {
    let mut ledger = Ledger::default();
    for outcome in outcomes {
        if let (Some(201), Some(at)) = (outcome.status, outcome.placement) {
            ledger.acked(outcome.order_id.clone(), at);
        }
    }
    ledger
}

/// Compares the 201 answers of `outcomes` with every record of `topic`.
/// Blocking.
pub fn check_topic(bootstrap: &str, topic: &str, outcomes: &[Outcome]) -> Report {
    let mut ledger = acked(outcomes);
    let records = crate::read_all(bootstrap, topic);
    for record in &records {
        let key = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        ledger.seen(
            key,
            Placement {
                partition: record.partition(),
                offset: record.offset(),
            },
        );
    }
    ledger.report()
}
