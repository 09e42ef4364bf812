//! Liveness and readiness, as seen by orchestrators and load balancers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::{Router, extract::State, http::StatusCode, routing::get};

/// Whether a service should receive work: it is ready once it reached Kafka
/// and until it starts shutting down. Cheap to clone; clones share state.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<Flags>);

#[derive(Debug, Default)]
struct Flags {
    connected: AtomicBool,
    draining: AtomicBool,
}

impl Readiness {
    /// Records whether the service can currently work with Kafka.
    pub fn set_connected(&self, connected: bool) {
        self.0.connected.store(connected, Ordering::Relaxed);
    }

    /// Marks the service as shutting down; it stays not ready from then on.
    pub fn set_draining(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    /// True while the service is connected and not shutting down.
    pub fn is_ready(&self) -> bool {
        self.0.connected.load(Ordering::Relaxed) && !self.0.draining.load(Ordering::Relaxed)
    }
}

/// `GET /livez` (the process answers) and `GET /readyz` (see [`Readiness`]).
pub fn routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, &'static str) {
    if readiness.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn status(readiness: &Readiness, path: &str) -> StatusCode {
        let request = Request::get(path).body(Body::empty()).unwrap();
        routes(readiness.clone())
            .oneshot(request)
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn readyz_follows_the_connection_and_stays_503_once_draining() {
        let readiness = Readiness::default();
        assert_eq!(status(&readiness, "/livez").await, StatusCode::OK);
        assert_eq!(
            status(&readiness, "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.set_connected(true);
        assert_eq!(status(&readiness, "/readyz").await, StatusCode::OK);
        readiness.set_draining();
        assert_eq!(
            status(&readiness, "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.set_connected(true);
        assert_eq!(
            status(&readiness, "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status(&readiness, "/livez").await, StatusCode::OK);
    }
}
