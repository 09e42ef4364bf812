//! Every way a request can fail, and how each becomes an RFC 9457
//! `application/problem+json` response.

use std::borrow::Cow;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use order_contract::FieldError;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::publisher::PublishError;

/// A request the service will not turn into a published order.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not declared as JSON.
    #[error("expected content-type application/json, got {}", .0.as_deref().unwrap_or("none"))]
    UnsupportedMediaType(Option<String>),
    /// The body is larger than the configured limit.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body could not be read.
    #[error("the request body could not be read: {0}")]
    UnreadableBody(String),
    /// The body is not JSON, or not of the order's shape.
    #[error("{0}")]
    MalformedJson(String),
    /// The order is well-formed but breaks business rules.
    #[error("{} field(s) failed validation", .0.len())]
    Validation(Vec<FieldError>),
    /// `MAX_IN_FLIGHT_ORDERS` orders are being handled; this one was
    /// refused before its body was read.
    #[error("too many orders are being handled at once; retry shortly")]
    Overloaded,
    /// Kafka did not take the order `order_id` (the client's, or the one
    /// generated for it), which the answer names so that a retry can use it.
    #[error("{error}; retry with the same order_id")]
    Unavailable {
        /// The order's id.
        order_id: Uuid,
        /// What Kafka did.
        error: PublishError,
    },
    /// API tokens are configured and the request has no accepted one.
    #[error("{}", if *presented { "the bearer token is not accepted" } else { "this endpoint requires an Authorization: Bearer token" })]
    Unauthorized {
        /// Whether the request carried a bearer token at all.
        presented: bool,
    },
    /// The body did not arrive within `REQUEST_TIMEOUT_MS`; nothing was
    /// published.
    #[error("the request body did not arrive within {0:?}; nothing was published")]
    RequestTimeout(std::time::Duration),
    /// A bug: handling the request panicked. The last guard, so that even
    /// then the answer is a problem document.
    #[error(
        "the service failed while handling the request; if it was an order, retry with the same order_id"
    )]
    Internal,
    /// No route matches the path.
    #[error("no resource at this path")]
    NotFound,
    /// The route exists but not for this method.
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnreadableBody(_) | Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Overloaded | Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem type: a stable identifier clients can match on.
    fn slug(&self) -> &'static str {
        match self {
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::PayloadTooLarge(_) => "payload-too-large",
            Self::UnreadableBody(_) => "unreadable-body",
            Self::MalformedJson(_) => "malformed-json",
            Self::Validation(_) => "validation-failed",
            Self::Overloaded => "overloaded",
            Self::Unavailable { .. } => "kafka-unavailable",
            Self::Unauthorized { .. } => "unauthorized",
            Self::RequestTimeout(_) => "request-timeout",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Internal => "internal-error",
        }
    }

    /// How long a client should wait before retrying, for `Retry-After`.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Overloaded => Some(Duration::from_secs(1)),
            Self::Unavailable { error, .. } => Some(error.retry_after()),
            _ => None,
        }
    }

    /// Whether the order may have been stored although it was not
    /// acknowledged (handed to Kafka, then no acknowledgement).
    pub fn may_be_stored(&self) -> bool {
        matches!(self, Self::Unavailable { error, .. } if error.may_be_stored())
    }

    /// The problem document describing this error.
    pub fn problem(&self) -> Problem<'_> {
        let status = self.status();
        let errors = match self {
            Self::Validation(errors) => errors.as_slice(),
            _ => &[],
        };
        let order_id = match self {
            Self::Unavailable { order_id, .. } => Some(*order_id),
            _ => None,
        };
        Problem {
            r#type: format!("urn:problem-type:orders:{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
            errors: Cow::Borrowed(errors),
            order_id,
        }
    }

    /// The problem document, owning what it lists (for a batch's results,
    /// which outlive their errors).
    pub fn into_problem(self) -> Problem<'static> {
        let Problem {
            r#type,
            title,
            status,
            detail,
            order_id,
            ..
        } = self.problem();
        let errors = match self {
            Self::Validation(errors) => Cow::Owned(errors),
            _ => Cow::Borrowed(&[][..]),
        };
        Problem {
            r#type,
            title,
            status,
            detail,
            errors,
            order_id,
        }
    }

    /// Logs the error once: client mistakes are routine (debug), failures
    /// on our side are warnings.
    pub fn log(&self) {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %self, "request rejected");
        }
    }
}

/// Marks a response to an order that was handed to Kafka but not
/// acknowledged: it may or may not be stored. The outcome metric reads it.
#[derive(Debug, Clone, Copy)]
pub struct MayBeStored;

/// The RFC 9457 body, with two extension members: `errors` lists each
/// failed rule, and `order_id` names the order a `kafka-unavailable` answer
/// is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem<'a> {
    /// Identifies the kind of problem, e.g. `urn:problem-type:orders:validation-failed`.
    #[schema(example = "urn:problem-type:orders:validation-failed")]
    r#type: String,
    /// The status's reason phrase.
    #[schema(example = "Unprocessable Entity")]
    title: &'static str,
    /// The HTTP status, repeated.
    #[schema(example = 422)]
    status: u16,
    /// What is wrong, for a human.
    #[schema(example = "1 field(s) failed validation")]
    detail: String,
    /// Every broken rule (422 only).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schema(value_type = Option<Vec<FieldError>>)]
    errors: Cow<'a, [FieldError]>,
    /// `kafka-unavailable` only: the order's id, the client's or the one
    /// generated for it. The order may have been stored: retry with this
    /// id, so that both copies carry the same key.
    #[serde(skip_serializing_if = "Option::is_none")]
    order_id: Option<Uuid>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let mut response = (self.status(), Json(self.problem())).into_response();
        if self.may_be_stored() {
            response.extensions_mut().insert(MayBeStored);
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(wait) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, wait.as_secs().into());
        }
        if let Self::Unauthorized { presented } = self {
            let challenge = if presented {
                r#"Bearer realm="orders", error="invalid_token""#
            } else {
                r#"Bearer realm="orders""#
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
