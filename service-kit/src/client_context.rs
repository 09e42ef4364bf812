//! What every Kafka client of the services does with librdkafka's callbacks:
//! logs and errors go to `tracing`, the same message at most once per
//! [`QUIET_PERIOD`], and statistics become metrics.
//!
//! librdkafka reports a refused connection or a failed authentication on
//! every reconnect attempt, several times a second. Readiness already tells
//! operators that Kafka is unreachable; the log needs the first line and a
//! count, not a flood. A different message is never held back: two
//! warnings of one facility can say two different things.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::{ClientContext, Statistics};

/// How long the same librdkafka message stays quiet after it was logged.
pub const QUIET_PERIOD: Duration = Duration::from_secs(30);

/// The client context of every service client: throttled logs, statistics
/// recorded as metrics (for clients that set `statistics.interval.ms`).
#[derive(Debug, Default)]
pub struct ServiceContext {
    throttle: Throttle,
}

impl ServiceContext {
    /// Logs a librdkafka log line, unless the same message was logged
    /// within [`QUIET_PERIOD`]. For contexts that wrap this one.
    pub fn log_line(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        // Debug contexts a service watches for itself are not for the log,
        // unless it was asked for.
        if matches!(level, RDKafkaLogLevel::Debug)
            && !tracing::enabled!(target: "librdkafka", tracing::Level::DEBUG)
        {
            return;
        }
        let key = format!("{level:?} {facility} {}", repeat_key(message));
        let Some(suppressed) = self.throttle.admit(&key) else {
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
    /// unless the same error was logged within [`QUIET_PERIOD`].
    pub fn client_error(&self, error: &KafkaError, reason: &str) {
        let key = format!("{} {}", repeat_key(&error.to_string()), repeat_key(reason));
        if let Some(suppressed) = self.throttle.admit(&key) {
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

/// What makes two librdkafka messages the same: their text, except the
/// numbers it puts in parentheses (how long a connection lasted, how many
/// identical errors it held back itself), which change at every repeat:
/// "Connect to ipv4#127.0.0.1:9092 failed: Connection refused (after 0ms in
/// state CONNECT, 3 identical error(s) suppressed)".
fn repeat_key(message: &str) -> String {
    let mut key = String::with_capacity(message.len());
    let mut depth = 0_usize;
    let mut in_number = false;
    for c in message.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 0 && c.is_ascii_digit() {
            if !in_number {
                key.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            key.push(c);
        }
    }
    key
}

/// How many distinct messages the throttle remembers before it forgets
/// those whose quiet period is over.
const MAX_KEYS: usize = 1024;

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
                // Messages that differ every time (debug logging) would grow
                // the map without end; quiet periods that are over hold
                // nothing worth keeping.
                if seen.len() >= MAX_KEYS {
                    seen.retain(|_, (last, _)| now.duration_since(*last) < QUIET_PERIOD);
                }
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

    #[test]
    fn repeats_differ_only_in_the_numbers_in_parentheses() {
        let refused = |after: u32, held: u32| {
            repeat_key(&format!(
                "127.0.0.1:9092/1: Connect to ipv4#127.0.0.1:9092 failed: Connection refused \
                 (after {after}ms in state CONNECT, {held} identical error(s) suppressed)"
            ))
        };
        assert_eq!(refused(0, 3), refused(1021, 12));
        assert_ne!(
            repeat_key("127.0.0.1:9092/1: Disconnected"),
            repeat_key("127.0.0.1:9093/2: Disconnected"),
            "another broker is another message"
        );
    }

    #[test]
    fn a_different_warning_of_the_same_facility_is_not_held_back() {
        let context = ServiceContext::default();
        let key = |message: &str| {
            format!(
                "{:?} FAIL {}",
                RDKafkaLogLevel::Warning,
                repeat_key(message)
            )
        };
        context.log_line(
            RDKafkaLogLevel::Warning,
            "FAIL",
            "broker 1: Connection refused (after 1ms)",
        );
        context.log_line(
            RDKafkaLogLevel::Warning,
            "FAIL",
            "broker 1: Connection refused (after 9ms)",
        );
        context.log_line(
            RDKafkaLogLevel::Warning,
            "FAIL",
            "broker 2: SSL handshake failed",
        );
        let seen = context.throttle.seen.lock().unwrap();
        assert_eq!(
            seen[&key("broker 1: Connection refused (after 1ms)")].1,
            1,
            "the repeat was held back"
        );
        assert_eq!(
            seen[&key("broker 2: SSL handshake failed")].1,
            0,
            "the other one was logged"
        );
    }
}
