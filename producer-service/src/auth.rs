//! Bearer-token authentication of `POST /orders`. Tokens are kept as SHA-256
//! digests and compared in constant time, so neither their content nor
//! their length can be learnt from response times.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use service_kit::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The accepted tokens; none means the API is open.
#[derive(Clone, Default)]
pub struct ApiTokens(Arc<[[u8; 32]]>);

impl ApiTokens {
    /// Accepts exactly `tokens` (empty ones are ignored).
    pub fn new<'a>(tokens: impl IntoIterator<Item = &'a Secret>) -> Self {
        Self(
            tokens
                .into_iter()
                .filter(|token| !token.expose().is_empty())
                .map(|token| digest(token.expose()))
                .collect(),
        )
    }

    /// True when no token is configured: every request is let through.
    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `presented` is one of the tokens. Every token is compared, so
    /// the time taken does not depend on which one matched.
    fn accepts(&self, presented: &str) -> bool {
        let presented = digest(presented);
        self.0
            .iter()
            .fold(subtle::Choice::from(0), |found, token| {
                found | token.ct_eq(&presented)
            })
            .into()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Middleware: lets a request through if the API is open or it carries an
/// accepted `Authorization: Bearer` token; otherwise answers 401.
pub async fn require_token(
    State(tokens): State<ApiTokens>,
    request: Request,
    next: Next,
) -> Response {
    if tokens.is_open() {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match presented {
        Some(token) if tokens.accepts(token) => next.run(request).await,
        Some(_) => ApiError::Unauthorized { presented: true }.into_response(),
        None => ApiError::Unauthorized { presented: false }.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_tokens_are_accepted() {
        let configured: Vec<Secret> = ["alpha-token", "beta-token", ""]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        let tokens = ApiTokens::new(&configured);
        assert!(!tokens.is_open());
        assert!(tokens.accepts("alpha-token"));
        assert!(tokens.accepts("beta-token"));
        for wrong in ["", "alpha", "alpha-token ", "ALPHA-TOKEN", "gamma-token"] {
            assert!(!tokens.accepts(wrong), "{wrong:?}");
        }
        assert!(ApiTokens::new([]).is_open());
    }
}
