//! Per-request correlation: the request span, its `x-request-id` (echoed in
//! the response) and its W3C trace, which the handler passes on to Kafka.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use service_kit::trace_context::{TRACEPARENT, Trace};
use tracing::Instrument;
use uuid::Uuid;

/// The request id header, read from the client and always answered.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client request id kept; longer ones are replaced, so a
/// client cannot make every log line of its request arbitrarily long.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Middleware: opens the request span with `request_id` and `trace_id`, so
/// every log line of the request carries them; hands the [`Trace`] to the
/// handler as a request extension; echoes `x-request-id`.
pub async fn correlate(mut request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|value| !value.is_empty() && value.len() <= MAX_REQUEST_ID_LEN)
        .and_then(|value| value.to_str().ok())
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
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

    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}
