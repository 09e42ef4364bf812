//! Many orders per request: our `POST /orders/batch` next to the bridge's
//! `POST /topics/{topic}` with as many records, in a closed loop (each
//! connection sends its next batch when the last is answered).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use loadgen::orders::{OrderGen, request_body};
use order_contract::Order;
use tokio::task::JoinSet;

use crate::bridge;

/// Where batches go.
#[derive(Clone)]
pub enum BatchTarget {
    /// producer-service's `POST /orders/batch`.
    Ours(String),
    /// The bridge's `POST /topics/{topic}`.
    Bridge(String),
}

impl BatchTarget {
    /// Sends `orders` in one request; returns how many were stored.
    async fn send(&self, client: &reqwest::Client, orders: &[Order]) -> u64 {
        let (url, content_type, body) = match self {
            Self::Ours(url) => (url, "application/json", ours_body(orders)),
            Self::Bridge(url) => (url, bridge::CONTENT_TYPE, bridge::records_body(orders)),
        };
        let Ok(response) = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
        else {
            return 0;
        };
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default();
        match self {
            Self::Ours(_) if status == 207 => stored_results(&body),
            Self::Bridge(_) if status == 200 => bridge::stored_records(&body),
            _ => 0,
        }
    }
}

fn ours_body(orders: &[Order]) -> Vec<u8> {
    let mut body = b"{\"orders\":[".to_vec();
    for (i, order) in orders.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&request_body(order));
    }
    body.extend_from_slice(b"]}");
    body
}

/// How many results of a 207 answer are 201.
fn stored_results(body: &[u8]) -> u64 {
    let Ok(answer) = serde_json::from_slice::<serde_json::Value>(body) else {
        return 0;
    };
    answer["results"].as_array().map_or(0, |results| {
        results.iter().filter(|r| r["status"] == 201).count() as u64
    })
}

/// `connections` clients each sending batches of `size` orders for
/// `duration`; returns the orders stored and the time taken.
pub async fn closed(
    target: &BatchTarget,
    connections: usize,
    size: usize,
    duration: Duration,
) -> (u64, Duration) {
    let stored = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = JoinSet::new();
    for worker in 0..connections {
        let (target, stored) = (target.clone(), Arc::clone(&stored));
        workers.spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("HTTP client");
            let mut orders = OrderGen::new(worker as u64);
            while Instant::now() < deadline {
                let batch: Vec<Order> = (0..size).map(|_| orders.next_order()).collect();
                let count = target.send(&client, &batch).await;
                stored.fetch_add(count, Ordering::Relaxed);
            }
        });
    }
    while workers.join_next().await.is_some() {}
    (stored.load(Ordering::Relaxed), started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_batch_body_holds_every_order_and_only_201_results_count() {
        let mut orders = OrderGen::new(3);
        let batch: Vec<Order> = (0..3).map(|_| orders.next_order()).collect();
        let body: serde_json::Value = serde_json::from_slice(&ours_body(&batch)).unwrap();
        assert_eq!(body["orders"].as_array().unwrap().len(), 3);
        let answer = br#"{"results":[{"status":201},{"status":422},{"status":201}]}"#;
        assert_eq!(stored_results(answer), 2);
    }
}
