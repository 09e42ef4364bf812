//! producer-service over HTTP: `POST /orders` with a JSON body.

use std::borrow::Cow;
use std::time::Duration;

use order_contract::Order;

use crate::orders::request_body;
use crate::run::{Answer, Target};

/// Posts orders to `{base}/orders`, reusing keep-alive connections.
pub struct HttpTarget {
    client: reqwest::Client,
    url: String,
}

impl HttpTarget {
    /// A client for the service at `base_url` (`http://host:port`).
    ///
    /// # Errors
    /// If the HTTP client cannot be built.
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            url: format!("{}/orders", base_url.trim_end_matches('/')),
        })
    }
}

impl Target for HttpTarget {
    async fn send(&self, order: &Order) -> Answer {
        let request = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request_body(order));
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read the body so the connection can be reused.
                let _ = response.bytes().await;
                Answer {
                    label: match status {
                        201 => Cow::Borrowed("201"),
                        503 => Cow::Borrowed("503"),
                        other => Cow::Owned(other.to_string()),
                    },
                    stored: status == 201,
                }
            }
            Err(error) => Answer {
                label: Cow::Borrowed(if error.is_connect() {
                    "error: connect"
                } else if error.is_timeout() {
                    "error: timeout"
                } else {
                    "error: other"
                }),
                stored: false,
            },
        }
    }
}
