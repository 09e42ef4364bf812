//! What a run measured: a latency histogram (HdrHistogram: exact
//! percentiles at three significant digits in fixed memory) and how often
//! each answer came back.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies and answers of one run, or of one task of a run.
#[derive(Clone)]
pub struct Recorder {
    latency_us: Histogram<u64>,
    answers: BTreeMap<String, u64>,
    stored: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            // 1 µs to 10 min covers every request that can finish.
            latency_us: Histogram::new_with_bounds(1, 600_000_000, 3)
                .expect("valid histogram bounds"),
            answers: BTreeMap::new(),
            stored: 0,
        }
    }
}

impl Recorder {
    /// Records one request: how long it took, what came back (`"201"`,
    /// `"acked"`, `"error: connect"`) and whether the order was stored.
    pub fn record(&mut self, latency: Duration, answer: &str, stored: bool) {
        self.stored += u64::from(stored);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.saturating_record(us.max(1));
        match self.answers.get_mut(answer) {
            Some(n) => *n += 1,
            None => {
                self.answers.insert(answer.to_owned(), 1);
            }
        }
    }

    /// Adds another recorder's figures to this one.
    pub fn merge(&mut self, other: &Self) {
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms with the same bounds");
        for (answer, n) in &other.answers {
            *self.answers.entry(answer.clone()).or_default() += n;
        }
        self.stored += other.stored;
    }

    /// Number of requests recorded.
    pub fn count(&self) -> u64 {
        self.latency_us.len()
    }

    /// How many requests got `answer`.
    pub fn answered(&self, answer: &str) -> u64 {
        self.answers.get(answer).copied().unwrap_or_default()
    }

    /// The latency at `quantile` (0.5 for the median).
    pub fn percentile(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.latency_us.value_at_quantile(quantile))
    }

    /// The longest latency.
    pub fn max(&self) -> Duration {
        Duration::from_micros(self.latency_us.max())
    }

    /// The figures of a run that took `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        Summary {
            requests: self.count(),
            elapsed,
            p50: self.percentile(0.5),
            p90: self.percentile(0.9),
            p99: self.percentile(0.99),
            p999: self.percentile(0.999),
            max: self.max(),
            answers: self.answers.clone(),
            stored: self.stored,
        }
    }
}

/// A finished run's figures.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Requests completed.
    pub requests: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 90th percentile latency.
    pub p90: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// 99.9th percentile latency.
    pub p999: Duration,
    /// Longest latency.
    pub max: Duration,
    /// Count of each answer.
    pub answers: BTreeMap<String, u64>,
    /// Orders the broker stored.
    pub stored: u64,
}

impl Summary {
    /// Requests per second over the run (every answer, not just successes).
    pub fn rate(&self) -> f64 {
        rate(self.requests, self.elapsed)
    }

    /// Stored orders per second.
    pub fn ok_rate(&self) -> f64 {
        rate(self.stored, self.elapsed)
    }

    /// `p50 …  p90 …  p99 …  p99.9 …  max …`, in milliseconds.
    pub fn percentiles(&self) -> String {
        format!(
            "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.p999),
            ms(self.max)
        )
    }
}

/// `count` events per second over `elapsed`.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let count = count as f64;
    count / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// Milliseconds with two decimals.
pub fn ms(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1_000.0)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} requests in {:.1} s: {:.0}/s ({:.0}/s successful)",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.ok_rate()
        )?;
        writeln!(f, "latency ms: {}", self.percentiles())?;
        let answers: Vec<String> = self
            .answers
            .iter()
            .map(|(answer, n)| format!("{answer}: {n}"))
            .collect();
        write!(f, "answers: {}", answers.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_recorders_add_up_and_percentiles_follow_the_data() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        for ms in 1..=99 {
            a.record(Duration::from_millis(ms), "201", true);
        }
        b.record(Duration::from_secs(1), "503", false);
        a.merge(&b);
        assert_eq!(a.count(), 100);
        assert_eq!(a.answered("201"), 99);
        assert_eq!(a.answered("503"), 1);
        let p50 = a.percentile(0.5).as_secs_f64();
        assert!((0.049..0.051).contains(&p50), "{p50}");
        assert!(a.max() >= Duration::from_millis(999));
        let summary = a.summary(Duration::from_secs(2));
        assert!((summary.rate() - 50.0).abs() < 1e-9);
        assert!((summary.ok_rate() - 49.5).abs() < 1e-9);
    }
}
