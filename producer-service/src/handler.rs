//! `POST /orders`: validate, stamp, publish, and answer once Kafka acknowledged.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use order_contract::{LineItem, Order, OrderInput};
use serde::{Deserialize, Serialize};
use service_kit::trace_context::Trace;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, Problem};
use crate::extract::JsonBody;
use crate::observe::RequestHeaders;
use crate::state::AppState;

/// The request body. Unknown fields are ignored so that newer clients keep
/// working against this version.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "customer_id": "cust-42",
    "currency": "EUR",
    "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price_cents": 1299}]
}))]
pub struct OrderRequest {
    /// Client-chosen idempotency key: a client that got no answer retries with
    /// the same id. Generated (UUIDv7, time-ordered) when absent.
    pub order_id: Option<Uuid>,
    /// Who places the order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9._-]+$")]
    pub customer_id: String,
    /// ISO 4217 code of the currency every price is in.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
    /// What is ordered.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<LineItem>,
}

impl OrderRequest {
    /// The fields [`order_contract::validate`] checks.
    pub fn as_input(&self) -> OrderInput<'_> {
        OrderInput {
            customer_id: &self.customer_id,
            currency: &self.currency,
            items: &self.items,
        }
    }
}

/// The 201 body: where the order is stored and what the service computed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderAccepted {
    /// The order's id, generated if the request had none.
    pub order_id: Uuid,
    /// Topic the order was written to.
    pub topic: String,
    /// Partition the order was written to.
    pub partition: i32,
    /// Offset of the order in that partition; `null` when the broker
    /// acknowledged the order without reporting its position (a retried
    /// write the broker had already stored): the order is stored all the
    /// same.
    pub offset: Option<i64>,
    /// When the service accepted the order (RFC 3339).
    #[serde(with = "order_contract::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Sum of the items, in the smallest unit of the currency.
    pub total_cents: u64,
}

/// Validates the order, publishes it, and answers 201 only after the broker
/// acknowledged it. Nothing is published for a rejected order.
#[utoipa::path(
    post,
    path = "/orders",
    request_body(content = OrderRequest, content_type = "application/json"),
    // Either a bearer token, or none when the API runs without API_TOKENS.
    security(("bearer" = []), ()),
    params(RequestHeaders),
    responses(
        (status = 201, description = "Stored: the broker acknowledged the order. `offset` is null when the broker acknowledged it without reporting a position (a retried write it had already stored).", body = OrderAccepted,
            headers(("x-request-id" = String, description = "The request's id."))),
        (status = 400, description = "Not JSON, or not of the order's shape (`malformed-json`), or the body could not be read (`unreadable-body`).", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "API tokens are configured and the request has none, or not an accepted one (`unauthorized`).", body = Problem, content_type = "application/problem+json",
            headers(("www-authenticate" = String, description = "`Bearer realm=\"orders\"`, with `error=\"invalid_token\"` for a wrong token."))),
        (status = 408, description = "The body did not arrive within `REQUEST_TIMEOUT_MS` (`request-timeout`), e.g. a stalled upload; nothing was published.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than `MAX_BODY_BYTES` (`payload-too-large`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The content type is not JSON (`unsupported-media-type`).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Business rules broken (`validation-failed`); `errors` lists every field.", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "A bug: handling the request failed unexpectedly (`internal-error`). Retry with the same `order_id`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Not acknowledged: shed under load before the body was read (`overloaded`), or Kafka did not take the order (`kafka-unavailable`: the order may or may not be stored, and the problem's `order_id` names it, the client's or the one generated for it). Retry with that `order_id`.", body = Problem, content_type = "application/problem+json",
            headers(("retry-after" = u32, description = "Seconds to wait before retrying."))),
    ),
)]
pub async fn create_order(
    State(state): State<AppState>,
    Extension(trace): Extension<Trace>,
    JsonBody(request): JsonBody<OrderRequest>,
) -> Result<(StatusCode, Json<OrderAccepted>), ApiError> {
    // The consumer continues this trace from the record's header.
    let traceparent = trace.traceparent(&tracing::Span::current());
    let accepted = accept(&state, request, &traceparent).await?;
    Ok((StatusCode::CREATED, Json(accepted)))
}

/// Validates one order, publishes it, and returns the 201 body once the
/// broker acknowledged it; shared by `POST /orders` and the batch.
pub(crate) async fn accept(
    state: &AppState,
    request: OrderRequest,
    traceparent: &str,
) -> Result<OrderAccepted, ApiError> {
    let total_cents = order_contract::validate(request.as_input()).map_err(ApiError::Validation)?;

    let order = Order {
        order_id: request.order_id.unwrap_or_else(Uuid::now_v7),
        customer_id: request.customer_id,
        currency: request.currency,
        items: request.items,
        total_cents,
        created_at: OffsetDateTime::now_utc(),
    };
    let ack = state
        .publisher
        .publish(&order, traceparent)
        .await
        .map_err(|error| ApiError::Unavailable {
            order_id: order.order_id,
            error,
        })?;
    tracing::info!(
        order_id = %order.order_id,
        partition = ack.partition,
        offset = ack.offset,
        total_cents,
        "order published"
    );
    Ok(OrderAccepted {
        order_id: order.order_id,
        topic: state.publisher.topic().to_owned(),
        partition: ack.partition,
        offset: ack.offset,
        created_at: order.created_at,
        total_cents,
    })
}
