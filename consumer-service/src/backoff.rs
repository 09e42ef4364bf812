//! Capped exponential backoff between retries that gives way to shutdown:
//! the one waiting rule of the business-step retries and the dead-letter
//! retries, and what giving way means for a record ([`Interrupted`]).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Shutdown came while a record's retries waited: the record is not
/// handled, so neither its offset nor any later one of its partition may
/// be stored; the partition's next owner handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interrupted;

/// The delay before the next retry: doubles after every wait, up to a cap.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `first` and never waits longer than `max`.
    pub(crate) fn new(first: Duration, max: Duration) -> Self {
        Self { next: first, max }
    }

    /// How long the next [`wait`](Self::wait) sleeps, for log lines.
    pub(crate) fn next(&self) -> Duration {
        self.next
    }

    /// Sleeps the current delay and doubles it; gives up at once if
    /// `cancel` fires first, and the caller must give up the retry.
    pub(crate) async fn wait(&mut self, cancel: &CancellationToken) -> Result<(), Interrupted> {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(Interrupted),
            () = tokio::time::sleep(self.next) => {}
        }
        self.next = (self.next * 2).min(self.max);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_delay_doubles_up_to_the_cap_and_cancellation_ends_a_wait() {
        let cancel = CancellationToken::new();
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let mut delays = Vec::new();
        for _ in 0..4 {
            delays.push(backoff.next().as_millis());
            assert_eq!(backoff.wait(&cancel).await, Ok(()));
        }
        assert_eq!(delays, [100, 200, 350, 350]);

        cancel.cancel();
        assert_eq!(
            backoff.wait(&cancel).await,
            Err(Interrupted),
            "a cancelled wait gives up"
        );
        assert_eq!(backoff.next().as_millis(), 350, "and does not grow");
    }
}
