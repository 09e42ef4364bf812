//! The HTTP surface: which path goes to which handler, and the layers around them.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use service_kit::Readiness;

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
}

/// The whole API: `POST /orders` plus the health endpoints. Unknown paths and
/// methods get problem documents too.
pub fn app(state: AppState, readiness: Readiness) -> Router {
    Router::new()
        .route("/orders", post(handler::create_order))
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
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
