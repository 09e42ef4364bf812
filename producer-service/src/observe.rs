//! What the edge observes about every request, in one pass: its request id
//! (the client's `x-request-id`, or a new UUIDv7, answered in the response),
//! its W3C trace and the span every log line of the request carries, the
//! HTTP metrics, and, for `POST /orders`, the order's outcome. One
//! middleware rather than a layer for each: every layer costs every
//! request a boxed, cloned service and a future.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use metrics::Gauge;
use service_kit::trace_context::{TRACEPARENT, Trace};
use tracing::Instrument;
use uuid::Uuid;

use crate::error::MayBeStored;
use crate::outcome::{self, Outcome};

/// The request id header, read from the client and always answered.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request headers this middleware reads, as the OpenAPI document
/// describes them for every endpoint.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // never built: only its annotations are read
pub struct RequestHeaders {
    /// W3C trace context to continue; a new trace is started without it.
    traceparent: Option<String>,
    /// Request id for the logs (at most 128 characters); generated without it.
    #[param(rename = "x-request-id")]
    x_request_id: Option<String>,
}

/// The longest client request id kept; longer ones are replaced, so a
/// client cannot make every log line of its request arbitrarily long.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The routes counted in the HTTP metrics, by template. Other paths are not
/// counted, so that clients cannot create series.
const ROUTES: [&str; 3] = ["/orders", "/orders/batch", "/openapi.json"];

/// Middleware around the whole API: see the module's documentation.
pub async fn observe(mut request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|id| usable(id))
        .cloned()
        .unwrap_or_else(new_request_id);
    let trace = Trace::continue_or_start(
        request
            .headers()
            .get(TRACEPARENT)
            .and_then(|value| value.to_str().ok()),
    );
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = request_id.to_str().unwrap_or_default(),
        trace_id = %trace.trace_id_hex(),
    );
    trace.adopt(&span);
    let route = ROUTES
        .into_iter()
        .find(|route| *route == request.uri().path());
    let method = method_label(request.method());
    let is_order = route == Some("/orders") && request.method() == Method::POST;
    request.extensions_mut().insert(trace);

    let _in_flight = route.map(|_| InFlight::enter());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span).await;
    if let Some(route) = route {
        let labels = [
            ("method", method),
            ("route", route),
            ("status", status_label(response.status().as_u16())),
        ];
        metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed());
        metrics::counter!("http_requests_total", &labels).increment(1);
    }
    if is_order {
        outcome::count(Outcome::of(
            response.status().is_success(),
            response.extensions().get::<MayBeStored>().is_some(),
        ));
    }
    response.headers_mut().insert(X_REQUEST_ID, request_id);
    response
}

/// A client's request id is kept if it is 1 to 128 visible ASCII characters.
fn usable(id: &HeaderValue) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.to_str().is_ok()
}

fn new_request_id() -> HeaderValue {
    let mut text = Uuid::encode_buffer();
    let id = Uuid::now_v7().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(id).expect("a UUID is a valid header value")
}

/// A static label for each method the API could see; no allocation.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// A static label for each status the API answers with.
fn status_label(status: u16) -> &'static str {
    match status {
        201 => "201",
        200 => "200",
        207 => "207",
        400 => "400",
        401 => "401",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        415 => "415",
        422 => "422",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// The metrics' handles that carry no per-request label, looked up once.
struct Handles {
    in_flight: Gauge,
}

fn handles() -> &'static Handles {
    static HANDLES: std::sync::OnceLock<Handles> = std::sync::OnceLock::new();
    HANDLES.get_or_init(|| Handles {
        in_flight: metrics::gauge!("http_requests_in_flight"),
    })
}

/// Holds `http_requests_in_flight` up while a request runs, including one
/// whose client went away (its future is dropped, not completed).
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        handles().in_flight.increment(1);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        handles().in_flight.decrement(1);
    }
}

/// HELP lines for the HTTP metrics.
pub fn describe() {
    metrics::describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by method, route template and status."
    );
    metrics::describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from request to response headers, by method, route template and status."
    );
    metrics::describe_gauge!("http_requests_in_flight", "HTTP requests being handled.");
}
