//! The HTTP surface: which path goes to which handler, and the layers around them.

use std::any::Any;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state, map_request};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use axum::{BoxError, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

use crate::auth::{self, ApiTokens};
use crate::correlation::{self, X_REQUEST_ID};
use crate::error::ApiError;
use crate::state::AppState;
use crate::{batch, handler};

/// Limits of the order endpoint that act before its handler runs.
#[derive(Clone)]
pub struct Edge {
    /// Who may post orders.
    pub api_tokens: ApiTokens,
    /// Most `POST /orders` requests handled at once, body upload included.
    pub max_in_flight_orders: usize,
    /// Most `POST /orders/batch` requests handled at once.
    pub max_in_flight_batches: usize,
}

/// The public API: `POST /orders`, `POST /orders/batch` and
/// `GET /openapi.json` (probes and metrics are on the management listener).
/// Unknown paths and methods get problem documents too.
pub fn app(state: AppState, edge: Edge) -> Router {
    Router::new()
        .route("/orders", create_order(&state, edge.clone()))
        .route("/orders/batch", create_orders(&state, edge))
        .with_state(state)
        .merge(crate::openapi::routes())
        // A route layer sees the matched route template; unknown paths are
        // not counted, so clients cannot create series.
        .route_layer(from_fn(service_kit::metrics::track_http))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // The last guard: a bug that panics still gets a problem document.
        .layer(CatchPanicLayer::custom(internal_error))
        // Outside the panic guard, so that every log line of a request,
        // problems and panics included, carries its request_id and trace_id.
        .layer(from_fn(correlation::correlate))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(
            X_REQUEST_ID,
            correlation::NewRequestId,
        ))
        .layer(map_request(correlation::drop_unusable_request_id))
}

/// `POST /orders` and, outermost first: the outcome metric, then the
/// guards of [`guarded`].
fn create_order(state: &AppState, edge: Edge) -> MethodRouter<AppState> {
    guarded(
        post(handler::create_order),
        state.max_body_bytes,
        edge.max_in_flight_orders,
        edge.api_tokens,
    )
    .route_layer(from_fn(handler::count_outcome))
}

/// `POST /orders/batch`, with its own body limit and in-flight limit. Its
/// handler counts each order's outcome itself.
fn create_orders(state: &AppState, edge: Edge) -> MethodRouter<AppState> {
    guarded(
        post(batch::create_orders),
        state.max_batch_body_bytes,
        edge.max_in_flight_batches,
        edge.api_tokens,
    )
}

/// `route` behind, outermost first: the token check, and the in-flight
/// limit, which refuses a request beyond `max_in_flight` with 503 before a
/// byte of its body is read, so that memory stays bounded however many
/// clients upload at once; then the body limit.
fn guarded(
    route: MethodRouter<AppState>,
    max_body_bytes: usize,
    max_in_flight: usize,
    api_tokens: ApiTokens,
) -> MethodRouter<AppState> {
    let limit = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: BoxError| async {
            ApiError::Overloaded
        }))
        .load_shed()
        .concurrency_limit(max_in_flight);
    route
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .route_layer(limit)
        .route_layer(from_fn_with_state(api_tokens, auth::require_token))
}

/// Answers a panic with a 500 problem document and logs it once.
fn internal_error(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    tracing::error!(panic = message, "request handler panicked");
    ApiError::Internal.into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn buggy() -> &'static str {
        panic!("a bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_with_a_500_problem_document() {
        let app = Router::new()
            .route("/boom", get(buggy))
            .layer(CatchPanicLayer::custom(internal_error));
        let request = Request::get("/boom").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["type"], "urn:problem-type:orders:internal-error");
        assert_eq!(problem["status"], 500);
    }
}
