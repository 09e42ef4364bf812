//! Per-request correlation: the `x-request-id` (the client's, or a new
//! UUIDv7; tower-http sets it on the request and echoes it in the response)
//! and the W3C trace, both on the request span, which the handler passes on
//! to Kafka.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use service_kit::trace_context::{TRACEPARENT, Trace};
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Instrument;
use uuid::Uuid;

/// The request id header, read from the client and always answered.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client request id kept; longer ones are replaced, so a
/// client cannot make every log line of its request arbitrarily long.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Makes a UUIDv7 request id for requests that came without one.
#[derive(Debug, Clone, Copy)]
pub struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = HeaderValue::try_from(Uuid::now_v7().to_string()).ok()?;
        Some(RequestId::new(id))
    }
}

/// Removes a client request id that is empty, too long or not visible
/// ASCII, so that a new one is made instead (tower-http keeps any).
pub async fn drop_unusable_request_id(mut request: Request) -> Request {
    let unusable = request.headers().get(&X_REQUEST_ID).is_some_and(|value| {
        value.is_empty() || value.len() > MAX_REQUEST_ID_LEN || value.to_str().is_err()
    });
    if unusable {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

/// Middleware: opens the request span with `request_id` and `trace_id`, so
/// every log line of the request carries them, and hands the [`Trace`] to
/// the handler as a request extension.
pub async fn correlate(mut request: Request, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let traceparent = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|value| value.to_str().ok());
    let trace = Trace::continue_or_start(traceparent);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        %request_id,
        trace_id = %trace.trace_id,
    );
    trace.adopt(&span);
    request.extensions_mut().insert(trace);
    next.run(request).instrument(span).await
}
