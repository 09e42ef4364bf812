//! Orders as the tests need them: a valid one in one line, published the way
//! producer-service publishes it, and counted back from a consumer's log.

use std::collections::HashMap;

use order_contract::{LineItem, Order};
use rdkafka::message::OwnedHeaders;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ServiceProcess;

/// A valid order of `customer` with a fresh UUIDv7: three of `BOOK-1` at
/// 10.00, so `total_cents` is 3000.
pub fn order(customer: &str) -> Order {
    Order {
        order_id: Uuid::now_v7(),
        customer_id: customer.to_owned(),
        currency: "EUR".to_owned(),
        items: vec![LineItem {
            sku: "BOOK-1".to_owned(),
            quantity: 3,
            unit_price_cents: 1000,
        }],
        total_cents: 3000,
        created_at: OffsetDateTime::now_utc(),
    }
}

/// Writes `order` to the `orders` topic keyed by its id, as producer-service
/// does, and waits for the acknowledgement.
///
/// # Panics
/// As [`crate::produce`].
pub fn publish_order(bootstrap: &str, order: &Order) {
    publish_orders(bootstrap, std::slice::from_ref(order));
}

/// [`publish_order`] for many orders at once, through one producer.
///
/// # Panics
/// If any order is not acknowledged within ten seconds.
pub fn publish_orders(bootstrap: &str, orders: &[Order]) {
    let records: Vec<(String, Vec<u8>)> = orders
        .iter()
        .map(|order| (order.order_id.to_string(), order.encode()))
        .collect();
    crate::produce_all(
        bootstrap,
        "orders",
        records.iter().map(|(key, payload)| {
            (
                Some(key.as_bytes()),
                payload.as_slice(),
                OwnedHeaders::new(),
            )
        }),
    );
}

/// How many "order processed" lines each order id has in `consumer`'s log.
pub fn processed(consumer: &mut ServiceProcess) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for line in consumer.logged("order processed") {
        if let Some(id) = line["order_id"].as_str() {
            *counts.entry(id.to_owned()).or_default() += 1;
        }
    }
    counts
}
