//! What the request handlers and extractors share. Its own module so that
//! the files stand in layers: routes use handlers, handlers use the state.

use std::sync::Arc;
use std::time::Duration;

use crate::publisher::Publisher;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The Kafka producer.
    pub publisher: Arc<Publisher>,
    /// Largest accepted body, for the 413 message.
    pub max_body_bytes: usize,
    /// Largest accepted body of `POST /orders/batch`.
    pub max_batch_body_bytes: usize,
    /// Longest the body upload may take before the request is answered 408.
    pub body_timeout: Duration,
}
