//! Tests of `run.rs`.

use super::*;

/// Answers every order after `delay`.
struct Slow {
    delay: Duration,
}

impl Target for Slow {
    async fn send(&self, _order: &Order) -> Answer {
        tokio::time::sleep(self.delay).await;
        Answer {
            label: Cow::Borrowed("ok"),
            stored: true,
        }
    }
}

#[tokio::test]
async fn a_closed_loop_run_for_a_count_sends_exactly_that_many_orders() {
    let target = Arc::new(Slow {
        delay: Duration::ZERO,
    });
    let outcome = run(
        target,
        Mode::Closed { concurrency: 7 },
        Until::Count(100),
        false,
        None,
    )
    .await;
    assert_eq!(outcome.summary.requests, 100);
    assert_eq!(outcome.summary.answers["ok"], 100);
    assert_eq!(outcome.skipped, 0);
}

#[tokio::test]
async fn an_open_loop_skips_and_counts_orders_due_while_too_many_are_outstanding() {
    // One order may be outstanding, each takes 200 ms, and one is due
    // every millisecond: most of the 50 must be skipped.
    let target = Arc::new(Slow {
        delay: Duration::from_millis(200),
    });
    let outcome = run(
        target,
        Mode::Open {
            rate: 1_000.0,
            max_outstanding: 1,
        },
        Until::Count(50),
        false,
        None,
    )
    .await;
    assert_eq!(outcome.summary.requests + outcome.skipped, 50);
    assert!(outcome.skipped >= 40, "{outcome:?}");
    // Latency counts from when an order was due, so it is at least the
    // target's own 200 ms.
    assert!(outcome.summary.p50 >= Duration::from_millis(200));
}
