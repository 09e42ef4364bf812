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
    stalled: AtomicBool,
    failing: AtomicBool,
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

    /// Records whether the service has work waiting and is making no
    /// progress on it: connected, yet of no use.
    pub fn set_stalled(&self, stalled: bool) {
        self.0.stalled.store(stalled, Ordering::Relaxed);
    }

    /// Records whether the service's last write to Kafka failed although
    /// the cluster answers: connected, yet its work does not get through.
    pub fn set_failing(&self, failing: bool) {
        self.0.failing.store(failing, Ordering::Relaxed);
    }

    /// True while the service is connected, making progress, and not
    /// shutting down.
    pub fn is_ready(&self) -> bool {
        self.not_ready().is_none()
    }

    /// Why the service is not ready, if it is not.
    pub fn not_ready(&self) -> Option<&'static str> {
        if self.0.draining.load(Ordering::Relaxed) {
            Some("not ready: shutting down")
        } else if !self.0.connected.load(Ordering::Relaxed) {
            Some("not ready: not connected to Kafka")
        } else if self.0.stalled.load(Ordering::Relaxed) {
            Some(
                "not ready: stalled, records are waiting and none was handled within the stall timeout",
            )
        } else if self.0.failing.load(Ordering::Relaxed) {
            Some("not ready: the last write to Kafka failed")
        } else {
            None
        }
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
    match readiness.not_ready() {
        None => (StatusCode::OK, "ready"),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
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

    #[tokio::test]
    async fn a_stalled_service_is_not_ready_until_it_makes_progress_again() {
        let readiness = Readiness::default();
        readiness.set_connected(true);
        readiness.set_stalled(true);
        assert_eq!(
            status(&readiness, "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert!(readiness.not_ready().unwrap().contains("stalled"));
        readiness.set_stalled(false);
        assert_eq!(status(&readiness, "/readyz").await, StatusCode::OK);
    }
}
