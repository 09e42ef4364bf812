//! `GET /openapi.json`: the OpenAPI 3.1 description of `POST /orders` and
//! `POST /orders/batch`,
//! generated from the handler's and the types' annotations, so it cannot
//! drift from the code without a compile error or a failing test.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{batch, handler};

/// The document's root: which paths it describes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "orders",
        description = "Accepts orders and publishes them to Kafka; 201 only once the broker acknowledged the order. Errors are RFC 9457 problem documents. Probes and metrics (GET /livez, GET /readyz, GET /metrics) are served on the separate management listener (MANAGEMENT_ADDR), not here."
    ),
    paths(handler::create_order, batch::create_orders),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme `POST /orders` refers to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, document: &mut utoipa::openapi::OpenApi) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document, rendered once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
});

/// `GET /openapi.json`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route(
        "/openapi.json",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                DOCUMENT.as_str(),
            )
        }),
    )
}
