//! The producer floor: the least code an engineer would write for
//! `POST /orders` with producer-service's guarantees and none of the rest.
//! A benchmark reference, not a product: the order parsed with serde, three
//! fields checked, published with the same librdkafka settings
//! (`acks=all`, idempotence, one request in flight, `linger.ms` 1) and
//! answered 201 with its partition and offset only once acknowledged. No
//! middleware, metrics, logs, tracing, limits or problem documents.
//!
//! `KAFKA_BROKERS` and `HTTP_ADDR` say where; `GET /readyz` answers at once.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use order_contract::{LineItem, Order};
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Deserialize)]
struct NewOrder {
    order_id: Option<Uuid>,
    customer_id: String,
    currency: String,
    items: Vec<LineItem>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let brokers = std::env::var("KAFKA_BROKERS")?;
    let addr = std::env::var("HTTP_ADDR")?;
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("max.in.flight.requests.per.connection", "1")
        .set("linger.ms", "1")
        .set("message.timeout.ms", "10000")
        .create()?;
    let app = Router::new()
        .route("/orders", post(publish))
        .route("/readyz", get(|| async { "ready" }))
        .with_state(Arc::new(producer));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            term.recv().await;
        })
        .await?;
    Ok(())
}

async fn publish(State(producer): State<Arc<FutureProducer>>, body: Bytes) -> Response {
    let new: NewOrder = match serde_json::from_slice(&body) {
        Ok(new) => new,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    if new.customer_id.is_empty() || new.currency.len() != 3 || new.items.is_empty() {
        return (StatusCode::UNPROCESSABLE_ENTITY, "invalid order").into_response();
    }
    let total_cents = new
        .items
        .iter()
        .map(|item| u64::from(item.quantity) * item.unit_price_cents)
        .sum();
    let order = Order {
        order_id: new.order_id.unwrap_or_else(Uuid::now_v7),
        customer_id: new.customer_id,
        currency: new.currency,
        items: new.items,
        total_cents,
        created_at: OffsetDateTime::now_utc(),
    };
    let key = order.order_id.to_string();
    let payload = order.encode();
    let record = FutureRecord::to("orders").key(&key).payload(&payload);
    match producer.send(record, Duration::ZERO).await {
        Ok(delivery) => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({
                "order_id": order.order_id,
                "partition": delivery.partition,
                "offset": delivery.offset,
            })),
        )
            .into_response(),
        Err((error, _)) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    }
}
