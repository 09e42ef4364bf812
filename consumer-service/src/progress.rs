//! Whether the consumer gets anywhere: ready means more than assigned. With
//! a record in hand, or records waiting in its partitions
//! (`consumer_lag_stored` > 0 in librdkafka's statistics), and no offset
//! stored for `STALL_TIMEOUT_MS`, it is stalled: a business step that hangs, a dead-letter topic that never
//! acknowledges. Then `/readyz` answers 503 with the reason,
//! `kafka_consumer_stalled` is 1 and one ERROR line says so; the first
//! offset stored afterwards makes it ready again.
//!
//! The clock runs on a task of its own, so that a consume loop stuck in a
//! record cannot stop it. librdkafka's statistics arrive only while the
//! loop polls, so a record in hand counts as waiting by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use service_kit::Readiness;
// Tokio's clock: the same as std's, but it can be paused in tests.
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Progress of the consume loop, shared with the watchdog.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    /// When an offset was last stored (or partitions assigned), in
    /// milliseconds since `started`.
    last: AtomicU64,
    /// Records waiting in the partitions this instance owns.
    waiting: AtomicI64,
    /// A record is being handled.
    in_hand: AtomicBool,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            last: AtomicU64::new(0),
            waiting: AtomicI64::new(0),
            in_hand: AtomicBool::new(false),
        }
    }
}

impl Progress {
    /// The loop took a record to handle.
    pub fn took(&self) {
        self.in_hand.store(true, Ordering::Relaxed);
    }

    /// An offset was stored, or partitions were assigned: the clock
    /// starts again.
    pub fn made(&self) {
        self.in_hand.store(false, Ordering::Relaxed);
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    /// Records waiting, from librdkafka's statistics.
    pub fn set_waiting(&self, records: i64) {
        self.waiting.store(records, Ordering::Relaxed);
    }

    /// How long records have waited with no progress, if they do.
    fn stalled_for(&self) -> Option<Duration> {
        if self.waiting.load(Ordering::Relaxed) <= 0 && !self.in_hand.load(Ordering::Relaxed) {
            return None;
        }
        let since = Duration::from_millis(self.last.load(Ordering::Relaxed));
        Some(self.started.elapsed().saturating_sub(since))
    }
}

/// Marks `readiness` stalled while [`Progress`] has records waiting and no
/// progress for `timeout`, until `cancel` fires.
pub async fn watch(
    progress: Arc<Progress>,
    readiness: Readiness,
    timeout: Duration,
    cancel: CancellationToken,
) {
    let tick = (timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut stalled = false;
    metrics::gauge!("kafka_consumer_stalled").set(0.0);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(tick) => {}
        }
        let waited = progress.stalled_for();
        let now = waited.is_some_and(|waited| waited >= timeout);
        if now == stalled {
            continue;
        }
        stalled = now;
        readiness.set_stalled(stalled);
        metrics::gauge!("kafka_consumer_stalled").set(if stalled { 1.0 } else { 0.0 });
        if stalled {
            tracing::error!(
                waiting = progress.waiting.load(Ordering::Relaxed),
                stalled_ms = waited.map_or(0, |waited| waited.as_millis()),
                "stalled: records are waiting and none was handled within STALL_TIMEOUT_MS; not ready"
            );
        } else {
            tracing::info!("progress again; ready");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waiting_records_without_progress_make_it_unready_until_progress_resumes() {
        let progress = Arc::new(Progress::default());
        let readiness = Readiness::default();
        readiness.set_connected(true);
        let cancel = CancellationToken::new();
        let watchdog = tokio::spawn(watch(
            Arc::clone(&progress),
            readiness.clone(),
            Duration::from_secs(60),
            cancel.clone(),
        ));
        // Nothing waiting: never stalled, however long.
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert!(readiness.is_ready());
        // Records waiting: ready until the timeout, then not.
        progress.made();
        progress.set_waiting(3);
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(readiness.is_ready());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!readiness.is_ready());
        // One offset stored: ready again at the next tick.
        progress.made();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(readiness.is_ready());
        // A record in hand too long, with no statistics saying so.
        progress.set_waiting(0);
        progress.took();
        tokio::time::sleep(Duration::from_secs(62)).await;
        assert!(!readiness.is_ready());
        progress.made();
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(readiness.is_ready());
        cancel.cancel();
        watchdog.await.unwrap();
    }
}
