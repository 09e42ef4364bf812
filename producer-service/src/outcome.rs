//! How each order ended, counted in `orders_published_total`: the one
//! metric every path of an order (a single order, a batch's entry, an
//! order whose client went away) reports to.

use std::sync::OnceLock;

use metrics::Counter;

/// What became of one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored: the broker acknowledged it.
    Acked,
    /// Handed to Kafka but not acknowledged: it may or may not be stored.
    Failed,
    /// Refused before it reached Kafka.
    Rejected,
}

impl Outcome {
    /// The outcome of an answer: whether it was a success, and, if not,
    /// whether the order may have been stored.
    pub fn of(stored: bool, may_be_stored: bool) -> Self {
        if stored {
            Self::Acked
        } else if may_be_stored {
            Self::Failed
        } else {
            Self::Rejected
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Acked => "acked",
            Self::Failed => "failed",
            Self::Rejected => "rejected",
        }
    }
}

/// Counts one order's outcome. The three counters are looked up once: a
/// lookup by name and label costs more than the increment.
pub fn count(outcome: Outcome) {
    static COUNTERS: OnceLock<[Counter; 3]> = OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        [Outcome::Acked, Outcome::Failed, Outcome::Rejected]
            .map(|outcome| metrics::counter!("orders_published_total", "result" => outcome.label()))
    });
    let [acked, failed, rejected] = counters;
    let counter = match outcome {
        Outcome::Acked => acked,
        Outcome::Failed => failed,
        Outcome::Rejected => rejected,
    };
    counter.increment(1);
}

/// The metric's HELP line.
pub fn describe() {
    metrics::describe_counter!(
        "orders_published_total",
        "Orders by outcome, each POST /orders and each order of a POST /orders/batch: acked (201, stored), rejected (refused before it reached Kafka: bad input, no token, shed) and failed (Kafka did not acknowledge; may or may not be stored). An order whose client went away is counted once Kafka settled it. A batch refused whole is not counted here."
    );
}
