//! The HTTP surface: which path goes to which handler, and the layers around them.

use std::sync::Arc;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use service_kit::Readiness;

use crate::auth::{self, ApiTokens};
use crate::error::ApiError;
use crate::publisher::Publisher;
use crate::{correlation, handler};

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The Kafka producer.
    pub publisher: Arc<Publisher>,
    /// Largest accepted body, for the 413 message.
    pub max_body_bytes: usize,
    /// Who may post orders.
    pub api_tokens: ApiTokens,
    /// Longest a request may take.
    pub request_timeout: Duration,
}

/// The whole API: `POST /orders` plus the health endpoints. Unknown paths and
/// methods get problem documents too.
pub fn app(state: AppState, readiness: Readiness) -> Router {
    Router::new()
        .route("/orders", post(handler::create_order))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        // Route layers: only /orders needs a token and a time limit.
        .route_layer(from_fn_with_state(
            state.api_tokens.clone(),
            auth::require_token,
        ))
        .route_layer(from_fn_with_state(state.request_timeout, time_limit))
        .with_state(state)
        .merge(service_kit::health::routes(readiness))
        .merge(service_kit::metrics::routes())
        .merge(crate::openapi::routes())
        // A route layer sees the matched route template; unknown paths are
        // not counted, so clients cannot create series.
        .route_layer(axum::middleware::from_fn(service_kit::metrics::track_http))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // Outermost, so that every log line of a request, problems
        // included, carries its request_id and trace_id.
        .layer(axum::middleware::from_fn(correlation::correlate))
}

/// Answers 408 when a request (slow upload included) outlasts `limit`.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    tokio::time::timeout(limit, next.run(request))
        .await
        .unwrap_or_else(|_| ApiError::RequestTimeout(limit).into_response())
}
