//! What every Kafka client of the services does with librdkafka's callbacks:
//! logs and errors go to `tracing`, at most once per [`QUIET_PERIOD`] for the
//! same kind, and statistics become metrics.
//!
//! librdkafka reports a refused connection or a failed authentication on
//! every reconnect attempt, several times a second. Readiness already tells
//! operators that Kafka is unreachable; the log needs the first line and a
//! count, not a flood.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::{ClientContext, Statistics};

/// How long the same kind of librdkafka message stays quiet after it was logged.
pub const QUIET_PERIOD: Duration = Duration::from_secs(30);

/// The client context of every service client: throttled logs, statistics
/// recorded as metrics (for clients that set `statistics.interval.ms`).
#[derive(Debug, Default)]
pub struct ServiceContext {
    throttle: Throttle,
}

impl ServiceContext {
    /// Logs a librdkafka log line, unless the same facility logged within
    /// [`QUIET_PERIOD`]. For contexts that wrap this one.
    pub fn log_line(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let Some(suppressed) = self.throttle.admit(facility) else {
            return;
        };
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility, suppressed, "{message}");
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", facility, suppressed, "{message}");
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility, suppressed, "{message}");
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", facility, suppressed, "{message}");
            }
        }
    }

    /// Logs a client-wide error at WARN (librdkafka retries on its own),
    /// unless one of the same kind was logged within [`QUIET_PERIOD`].
    pub fn client_error(&self, error: &KafkaError, reason: &str) {
        let kind = error
            .rdkafka_error_code()
            .map_or_else(|| error.to_string(), |code| format!("{code:?}"));
        if let Some(suppressed) = self.throttle.admit(&kind) {
            tracing::warn!(target: "librdkafka", %error, reason, suppressed, "Kafka client error; retrying");
        }
    }
}

impl ClientContext for ServiceContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.log_line(level, facility, message);
    }

    fn stats(&self, statistics: Statistics) {
        crate::metrics::record_statistics(&statistics);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.client_error(&error, reason);
    }
}

/// Lets one message per key through every [`QUIET_PERIOD`].
#[derive(Debug, Default)]
struct Throttle {
    /// Per key: when it was last let through, and how many were held back since.
    seen: Mutex<HashMap<String, (Instant, u64)>>,
}

impl Throttle {
    /// `Some(held back since the last one)` if a message of `key` may be
    /// logged now, `None` if it must stay quiet.
    fn admit(&self, key: &str) -> Option<u64> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        match seen.get_mut(key) {
            Some((last, held)) if now.duration_since(*last) < QUIET_PERIOD => {
                *held += 1;
                None
            }
            Some((last, held)) => {
                *last = now;
                Some(std::mem::take(held))
            }
            None => {
                seen.insert(key.to_owned(), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_kind_is_let_through_once_per_period_with_a_count() {
        let throttle = Throttle::default();
        assert_eq!(throttle.admit("FAIL"), Some(0));
        assert_eq!(throttle.admit("FAIL"), None);
        assert_eq!(throttle.admit("FAIL"), None);
        assert_eq!(
            throttle.admit("SASL"),
            Some(0),
            "another kind is not held back"
        );

        // Pretend the period is over.
        throttle.seen.lock().unwrap().get_mut("FAIL").unwrap().0 -= QUIET_PERIOD;
        assert_eq!(throttle.admit("FAIL"), Some(2), "reports what it held back");
        assert_eq!(throttle.admit("FAIL"), None);
    }
}
