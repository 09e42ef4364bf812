//! A JSON body extractor whose rejections are [`ApiError`]s, so that a bad
//! body is answered with a problem document that says what is wrong and where.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// Like `axum::Json`, but 400 for any malformed or mistyped body (with the
/// JSON path of the offending value), 415 for a missing or non-JSON
/// content type, 413 past the body limit and 408 when the upload outlasts
/// `REQUEST_TIMEOUT_MS`. Only reading the body is timed: once an order is
/// handed to Kafka, the answer says what Kafka did with it.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let body = read_json(request, state, state.max_body_bytes).await?;
        parse(&body).map(JsonBody)
    }
}

/// The bytes of a JSON body, checked like [`JsonBody`]'s but not parsed,
/// under the batch limit: the batch handler parses its orders one by one,
/// borrowing from these bytes.
pub struct JsonBatchBytes(pub Bytes);

impl FromRequest<AppState> for JsonBatchBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read_json(request, state, state.max_batch_body_bytes)
            .await
            .map(JsonBatchBytes)
    }
}

/// Reads a body declared as JSON, within `REQUEST_TIMEOUT_MS`. `limit` is
/// the route's body limit (enforced by its `DefaultBodyLimit`), for the 413.
async fn read_json(request: Request, state: &AppState, limit: usize) -> Result<Bytes, ApiError> {
    // Borrowed unless the header is not UTF-8: no copy on the happy path.
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()));
    if !content_type.as_deref().is_some_and(is_json) {
        return Err(ApiError::UnsupportedMediaType(
            content_type.map(std::borrow::Cow::into_owned),
        ));
    }
    tokio::time::timeout(state.body_timeout, Bytes::from_request(request, state))
        .await
        .map_err(|_elapsed| ApiError::RequestTimeout(state.body_timeout))?
        .map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(limit),
            _ => ApiError::UnreadableBody(rejection.body_text()),
        })
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .rsplit_once('+')
            .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json"))
}

/// Parses a JSON object into `T`; errors name the JSON path of the
/// offending value.
pub fn parse<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, ApiError> {
    // serde's derive also reads structs from arrays; a request body must be an object.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') {
        return Err(ApiError::MalformedJson(
            "the body must be a JSON object".to_owned(),
        ));
    }
    // Tracking the path costs every field; it is only needed to say where
    // a body is wrong, so a body is read plainly first.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        ApiError::MalformedJson(if inner.is_syntax() || inner.is_eof() {
            format!("the body is not valid JSON: {inner}")
        } else if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        })
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::MalformedJson(format!("the body is not valid JSON: {error}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types_are_recognised_with_parameters_and_suffixes() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/vnd.orders+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json(""));
    }
}
