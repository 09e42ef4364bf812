//! Realistic random orders: a few thousand customers, one to five line items
//! from a catalogue, small quantities, prices from cents to hundreds.

use order_contract::{LineItem, Order};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// Makes orders; one per task, so no locking.
pub struct OrderGen {
    rng: fastrand::Rng,
}

impl OrderGen {
    /// A generator seeded from `seed`, so runs are repeatable per task.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The next order, valid by the contract's rules, with a fresh UUIDv7.
    pub fn next_order(&mut self) -> Order {
        let rng = &mut self.rng;
        let items: Vec<LineItem> = (0..rng.usize(1..=5))
            .map(|_| LineItem {
                sku: format!("SKU-{:05}", rng.u32(0..5_000)),
                // Mostly one or two of a thing.
                quantity: [1, 1, 1, 2, 2, 3, 5, 10][rng.usize(0..8)],
                unit_price_cents: rng.u64(99..=49_999),
            })
            .collect();
        let total_cents = items
            .iter()
            .map(|i| u64::from(i.quantity) * i.unit_price_cents)
            .sum();
        Order {
            order_id: Uuid::now_v7(),
            customer_id: format!("cust-{}", rng.u32(0..10_000)),
            currency: ["EUR", "USD", "GBP"][rng.usize(0..3)].to_owned(),
            items,
            total_cents,
            created_at: OffsetDateTime::now_utc(),
        }
    }
}

/// The `POST /orders` body for `order`: what a client sends, with the
/// client-chosen `order_id` so the order can be followed into the topic.
pub fn request_body(order: &Order) -> Vec<u8> {
    #[derive(Serialize)]
    struct Request<'a> {
        order_id: Uuid,
        customer_id: &'a str,
        currency: &'a str,
        items: &'a [LineItem],
    }
    serde_json::to_vec(&Request {
        order_id: order.order_id,
        customer_id: &order.customer_id,
        currency: &order.currency,
        items: &order.items,
    })
    .expect("an order request always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_orders_are_valid_and_their_bodies_parse_back() {
        let mut orders = OrderGen::new(7);
        for _ in 0..1_000 {
            let order = orders.next_order();
            assert_eq!(
                order_contract::validate(order.as_input()),
                Ok(order.total_cents)
            );
            let body: serde_json::Value = serde_json::from_slice(&request_body(&order)).unwrap();
            assert_eq!(body["order_id"], order.order_id.to_string());
        }
    }
}
