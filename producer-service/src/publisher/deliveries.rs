//! Whether orders get through: the metadata probe says the cluster answers,
//! but a cluster can answer and still refuse every write (too few in-sync
//! replicas, a leader that never acknowledges). So readiness also follows
//! the last delivery: a failed one makes the service not ready until an
//! order is acknowledged again.
//!
//! A service that is not ready gets no orders from its load balancer, so it
//! could never see one acknowledged: after [`RETRY_READY_AFTER`] without a
//! failure, a probe that reaches the cluster makes it ready again, to try.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use service_kit::Readiness;

use super::{Ack, PublishError};

/// How long after the last failed delivery a service whose cluster answers
/// turns ready again without an order acknowledged meanwhile.
pub(super) const RETRY_READY_AFTER: Duration = Duration::from_secs(5);

/// The last delivery's outcome, kept in step with [`Readiness`].
#[derive(Debug, Default)]
pub(super) struct Deliveries {
    readiness: Readiness,
    /// When the last delivery failed, unless one succeeded since.
    failed_at: Mutex<Option<Instant>>,
    /// Whether `failed_at` is set: every acknowledged order reads it, and
    /// only after a failure takes the lock.
    failing: AtomicBool,
}

impl Deliveries {
    /// The readiness this follows (and the cluster probe sets).
    pub(super) fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Records how an order's delivery ended.
    pub(super) fn record(&self, delivered: &Result<Ack, PublishError>) {
        if delivered.is_ok() && !self.failing.load(Ordering::Acquire) {
            return;
        }
        let mut failed_at = self
            .failed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match delivered {
            Ok(_) => {
                if failed_at.take().is_some() {
                    self.failing.store(false, Ordering::Release);
                    self.readiness.set_failing(false);
                    tracing::info!("an order was acknowledged again; ready");
                }
            }
            // Never sent: too much load, not a Kafka that refuses.
            Err(PublishError::QueueFull) => {}
            // The request's own line says why.
            Err(_) => {
                if failed_at.replace(Instant::now()).is_none() {
                    self.failing.store(true, Ordering::Release);
                    self.readiness.set_failing(true);
                    tracing::warn!(
                        "an order did not get through to Kafka; not ready until one does"
                    );
                }
            }
        }
    }

    /// After a probe that reached the cluster: ready to try again once no
    /// delivery failed for [`RETRY_READY_AFTER`].
    pub(super) fn cluster_answered(&self) {
        let mut failed_at = self
            .failed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if failed_at.is_some_and(|at| at.elapsed() >= RETRY_READY_AFTER) {
            *failed_at = None;
            self.failing.store(false, Ordering::Release);
            self.readiness.set_failing(false);
            tracing::info!(
                after_s = RETRY_READY_AFTER.as_secs(),
                "no order failed lately and Kafka answers; ready to try again"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_delivery_is_not_ready_until_one_succeeds() {
        let deliveries = Deliveries::default();
        deliveries.readiness.set_connected(true);
        deliveries.record(&Err(PublishError::QueueFull));
        assert!(deliveries.readiness.is_ready(), "a full queue is load");
        deliveries.record(&Err(PublishError::TimedOut(Duration::from_secs(1))));
        assert!(!deliveries.readiness.is_ready());
        deliveries.cluster_answered();
        assert!(!deliveries.readiness.is_ready(), "too soon to try again");
        deliveries.record(&Ok(Ack {
            partition: 0,
            offset: Some(1),
        }));
        assert!(deliveries.readiness.is_ready());
    }

    #[test]
    fn a_cluster_that_answers_long_after_the_failure_is_tried_again() {
        let deliveries = Deliveries::default();
        deliveries.readiness.set_connected(true);
        deliveries.record(&Err(PublishError::TimedOut(Duration::from_secs(1))));
        *deliveries.failed_at.lock().unwrap() = Instant::now().checked_sub(RETRY_READY_AFTER);
        deliveries.cluster_answered();
        assert!(deliveries.readiness.is_ready());
    }
}
