//! The HTTP surface: which path goes to which handler, and the layers around them.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::{self, ApiTokens};
use crate::error::ApiError;
use crate::observe;
use crate::state::AppState;
use crate::{batch, handler};

/// Limits of the order endpoints that act before their handlers run.
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
    let orders = guarded(
        post(handler::create_order),
        state.max_body_bytes,
        edge.max_in_flight_orders,
        &edge.api_tokens,
    );
    let batches = guarded(
        post(batch::create_orders),
        state.max_batch_body_bytes,
        edge.max_in_flight_batches,
        &edge.api_tokens,
    );
    Router::new()
        .route("/orders", orders)
        .route("/orders/batch", batches)
        .with_state(state)
        .merge(crate::openapi::routes())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // The last guard: a bug that panics still gets a problem document.
        .layer(CatchPanicLayer::custom(internal_error))
        // Outside the panic guard, so that every log line of a request,
        // problems and panics included, carries its request_id and trace_id,
        // and every answer is counted.
        .layer(from_fn(observe::observe))
}

/// `route` behind, outermost first: the token check (when tokens are
/// configured), and the in-flight limit, which refuses a request beyond
/// `max_in_flight` with 503 before a byte of its body is read, so that
/// memory stays bounded however many clients upload at once; then the body
/// limit.
fn guarded(
    route: MethodRouter<AppState>,
    max_body_bytes: usize,
    max_in_flight: usize,
    api_tokens: &ApiTokens,
) -> MethodRouter<AppState> {
    let limit = Arc::new(Semaphore::new(max_in_flight));
    let route = route
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .route_layer(from_fn_with_state(limit, in_flight_limit));
    if api_tokens.is_open() {
        route
    } else {
        route.route_layer(from_fn_with_state(api_tokens.clone(), auth::require_token))
    }
}

/// Runs the request if one of the route's places is free, holding it until
/// the answer; otherwise answers 503 `overloaded` at once.
async fn in_flight_limit(
    State(places): State<Arc<Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
    match places.try_acquire_owned() {
        Ok(_place) => next.run(request).await,
        Err(_) => ApiError::Overloaded.into_response(),
    }
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
