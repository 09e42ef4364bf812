//! `POST /orders/batch`: up to [`MAX_BATCH_ORDERS`] independent orders in
//! one request, each validated and published like a `POST /orders`, answered
//! 207 with one result per order in request order.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use futures::future::join_all;
use order_contract::FieldError;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use service_kit::trace_context::Trace;
use utoipa::ToSchema;

pub use crate::config::MAX_BATCH_ORDERS;
use crate::error::{ApiError, Problem};
use crate::extract::{JsonBatchBytes, parse};
use crate::handler::{self, OrderAccepted, OrderRequest};
use crate::observe::RequestHeaders;
use crate::outcome::{self, Outcome};
use crate::state::AppState;

/// The request body: the orders, each of them a `POST /orders` body.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"orders": [
    {"customer_id": "cust-42", "currency": "EUR",
     "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price_cents": 1299}]},
    {"customer_id": "cust-7", "currency": "EUR",
     "items": [{"sku": "PEN-7", "quantity": 1, "unit_price_cents": 250}]}
]}))]
pub struct BatchRequest<'a> {
    /// 1 to 500 orders, each an `OrderRequest` (the `POST /orders` body).
    /// Each is parsed and validated on its own: one that is not a valid
    /// order gets its own 400 or 422 result and does not refuse the others,
    /// so the items' schema here accepts any value.
    #[serde(borrow)]
    #[schema(value_type = Vec<serde_json::Value>, min_items = 1, max_items = 500)]
    pub orders: Orders<'a>,
}

/// The array of orders: the first [`MAX_BATCH_ORDERS`] entries kept as
/// they are, and how many there were in all.
pub struct Orders<'a> {
    /// The entries, at most [`MAX_BATCH_ORDERS`] of them.
    pub kept: Vec<&'a RawValue>,
    /// How many entries the array holds.
    pub count: usize,
}

impl<'de: 'a, 'a> Deserialize<'de> for Orders<'a> {
    /// Entries past [`MAX_BATCH_ORDERS`] are checked to be JSON and
    /// counted, not kept: a body of many tiny entries costs a scan of at
    /// most `MAX_BATCH_BODY_BYTES`, not an allocation per entry.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Orders<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of orders")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
                let mut kept = Vec::new();
                while kept.len() < MAX_BATCH_ORDERS {
                    match entries.next_element()? {
                        Some(order) => kept.push(order),
                        None => {
                            return Ok(Orders {
                                count: kept.len(),
                                kept,
                            });
                        }
                    }
                }
                let mut count = kept.len();
                while entries.next_element::<IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(Orders { kept, count })
            }
        }
        deserializer.deserialize_seq(Entries)
    }
}

/// The 207 body.
#[derive(Serialize, ToSchema)]
pub struct BatchAnswer<'a> {
    /// One result per order, in the order of the request.
    pub results: Vec<BatchResult<'a>>,
}

/// What became of one order of the batch.
#[derive(Serialize, ToSchema)]
pub struct BatchResult<'a> {
    /// 201 when the broker acknowledged the order; otherwise the status a
    /// `POST /orders` of it alone would have got.
    #[schema(example = 201)]
    pub status: u16,
    /// The 201 body, or the problem document.
    pub body: ResultBody<'a>,
}

/// The body of one result: exactly what `POST /orders` would have answered.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ResultBody<'a> {
    /// Stored.
    Stored(OrderAccepted),
    /// Not stored (or, for `kafka-unavailable`, not known to be).
    Problem(Problem<'a>),
}

/// Validates and publishes every order of the batch concurrently, and
/// answers once each is acknowledged or failed. An order is reported 201
/// only after the broker acknowledged it. A body that is not a batch, or
/// holds no order or more than 500, is refused whole and nothing is
/// published.
#[utoipa::path(
    post,
    path = "/orders/batch",
    request_body(content = BatchRequest, content_type = "application/json"),
    security(("bearer" = []), ()),
    params(RequestHeaders),
    responses(
        (status = 207, description = "Every order handled: one result per order, in request order, each 201 (stored) or a problem (400, 422 or 503 as `POST /orders` answers them). Retry the 503 ones with the `order_id` their problem names.", body = BatchAnswer,
            headers(("x-request-id" = String, description = "The request's id."))),
        (status = 400, description = "Not JSON, or not an object with an `orders` array (`malformed-json`), or the body could not be read (`unreadable-body`). Nothing was published.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "API tokens are configured and the request has none, or not an accepted one (`unauthorized`).", body = Problem, content_type = "application/problem+json",
            headers(("www-authenticate" = String, description = "`Bearer realm=\"orders\"`, with `error=\"invalid_token\"` for a wrong token."))),
        (status = 408, description = "The body did not arrive within `REQUEST_TIMEOUT_MS` (`request-timeout`); nothing was published.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than `MAX_BATCH_BODY_BYTES` (`payload-too-large`); nothing was published.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The content type is not JSON (`unsupported-media-type`).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No order, or more than 500 (`validation-failed`, field `orders`); nothing was published.", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "A bug (`internal-error`). Retry with the same `order_id`s.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Shed under load before the body was read (`overloaded`); nothing was published.", body = Problem, content_type = "application/problem+json",
            headers(("retry-after" = u32, description = "Seconds to wait before retrying."))),
    ),
)]
pub async fn create_orders(
    State(state): State<AppState>,
    Extension(trace): Extension<Trace>,
    JsonBatchBytes(body): JsonBatchBytes,
) -> Result<(StatusCode, Json<BatchAnswer<'static>>), ApiError> {
    let wrong_count = |got: usize| {
        ApiError::Validation(vec![FieldError::new(
            "orders",
            format!("must hold 1 to {MAX_BATCH_ORDERS} orders, got {got}"),
        )])
    };
    let batch: BatchRequest<'_> = parse(&body)?;
    let count = batch.orders.count;
    if count == 0 || count > MAX_BATCH_ORDERS {
        return Err(wrong_count(count));
    }
    let traceparent = trace.traceparent(&tracing::Span::current());
    // Each future enqueues its record at its first poll, and join_all polls
    // them in request order: orders with the same key keep their order.
    let answers = join_all(batch.orders.kept.iter().map(|raw| async {
        let request: OrderRequest = parse(raw.get().as_bytes())?;
        handler::accept(&state, request, &traceparent).await
    }))
    .await;

    let mut stored = 0;
    let results = answers
        .into_iter()
        .map(|answer| {
            outcome::count(Outcome::of(
                answer.is_ok(),
                answer.as_ref().is_err_and(ApiError::may_be_stored),
            ));
            match answer {
                Ok(accepted) => {
                    stored += 1;
                    BatchResult {
                        status: StatusCode::CREATED.as_u16(),
                        body: ResultBody::Stored(accepted),
                    }
                }
                Err(error) => {
                    error.log();
                    BatchResult {
                        status: error.status().as_u16(),
                        body: ResultBody::Problem(error.into_problem()),
                    }
                }
            }
        })
        .collect();
    tracing::info!(orders = count, stored, "batch handled");
    Ok((StatusCode::MULTI_STATUS, Json(BatchAnswer { results })))
}
