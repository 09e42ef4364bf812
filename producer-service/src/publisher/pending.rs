//! An order handed to librdkafka, and what its delivery report (or the lack
//! of one) means: the answer to its request, or, when the request is gone, a
//! follow-up that still counts and logs the order's end, or, when the
//! process exits first, is named in one last line.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::channel::oneshot::Canceled;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::DeliveryFuture;
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use tokio::time::error::Elapsed;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use uuid::Uuid;

use super::{Ack, Deliveries, PublishError};
use crate::outcome::{self, Outcome};

/// An order handed to librdkafka whose delivery report is awaited.
pub(super) struct Pending<'a> {
    /// Taken once the report is in, or handed to a follow-up task.
    pub(super) delivery: Option<DeliveryFuture>,
    pub(super) order_id: Uuid,
    pub(super) timeout: Duration,
    pub(super) follow_ups: &'a FollowUps,
    /// Told how the delivery ended, in either case.
    pub(super) deliveries: &'a Arc<Deliveries>,
}

/// The follow-up tasks of orders whose requests went away, tracked so that
/// shutdown can wait for them, or name the orders it could not settle.
#[derive(Default)]
pub(super) struct FollowUps {
    tasks: TaskTracker,
    orders: Arc<Mutex<HashSet<Uuid>>>,
}

impl FollowUps {
    /// After the final flush: waits for every follow-up to log its order's
    /// end if the flush delivered everything; else (or if they take longer
    /// than `timeout`) logs the ids of the orders left unsettled, whose
    /// clients were never told, and returns.
    pub(super) async fn finish(&self, flushed: bool, timeout: Duration) {
        self.tasks.close();
        if flushed
            && tokio::time::timeout(timeout, self.tasks.wait())
                .await
                .is_ok()
        {
            return;
        }
        let orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        if orders.is_empty() {
            return;
        }
        let order_ids: Vec<String> = orders.iter().map(Uuid::to_string).collect();
        tracing::error!(
            order_ids = %order_ids.join(","),
            count = order_ids.len(),
            "orders without a delivery report at exit, their clients gone: each may or may not be stored"
        );
    }
}

impl Pending<'_> {
    /// Waits for the delivery report. librdkafka enforces the delivery
    /// timeout itself; the outer timeout only guards against a report that
    /// never comes.
    pub(super) async fn wait(&mut self) -> Result<Ack, PublishError> {
        let delivery = self.delivery.as_mut().expect("waited once");
        let report = tokio::time::timeout(guard(self.timeout), delivery).await;
        self.delivery = None;
        let settled = settle(report, self.timeout);
        self.deliveries.record(&settled);
        settled
    }
}

impl Drop for Pending<'_> {
    /// The request was dropped before the report came: follow the order to
    /// its end, count it and log one line with its id, in the request's span.
    fn drop(&mut self) {
        let Some(delivery) = self.delivery.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (order_id, timeout) = (self.order_id, self.timeout);
        let orders = Arc::clone(&self.follow_ups.orders);
        let deliveries = Arc::clone(self.deliveries);
        orders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(order_id);
        let follow = async move {
            let report = tokio::time::timeout(guard(timeout), delivery).await;
            let settled = settle(report, timeout);
            deliveries.record(&settled);
            match settled {
                Ok(ack) => {
                    outcome::count(Outcome::Acked);
                    tracing::warn!(
                        %order_id,
                        partition = ack.partition,
                        offset = ack.offset,
                        "order stored, but its client went away before the answer"
                    );
                }
                Err(error) => {
                    outcome::count(Outcome::Failed);
                    tracing::warn!(
                        %order_id,
                        %error,
                        "order not acknowledged, and its client went away before the answer"
                    );
                }
            }
            orders
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&order_id);
        };
        self.follow_ups
            .tasks
            .spawn_on(follow.in_current_span(), &runtime);
    }
}

/// The longest wait for a delivery report: librdkafka's own timeout and a
/// second more.
fn guard(timeout: Duration) -> Duration {
    timeout + Duration::from_secs(1)
}

/// A delivery report awaited within [`guard`]: the report, the producer
/// gone (canceled), or no report in time (elapsed).
type Report = Result<Result<OwnedDeliveryResult, Canceled>, Elapsed>;

/// What a delivery report (or its absence) means for the order.
fn settle(report: Report, timeout: Duration) -> Result<Ack, PublishError> {
    match report {
        Ok(Ok(Ok(delivery))) => Ok(Ack {
            partition: delivery.partition,
            offset: (delivery.offset >= 0).then_some(delivery.offset),
        }),
        Ok(Ok(Err((KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut), _))))
        | Err(_) => Err(PublishError::TimedOut(timeout)),
        Ok(Ok(Err((error, _)))) => Err(PublishError::Kafka(error)),
        Ok(Err(_canceled)) => Err(PublishError::Kafka(KafkaError::Canceled)),
    }
}
