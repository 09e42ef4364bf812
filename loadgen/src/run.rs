//! Driving a [`Target`] with orders: a closed loop (N workers, each sending
//! its next order when the previous one is answered) or an open loop (orders
//! sent on a fixed schedule whatever the answers, latency measured from each
//! order's scheduled time so that a stalled server cannot hide its queueing:
//! no coordinated omission), for a duration or a number of orders.

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use order_contract::Order;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::orders::OrderGen;
use crate::stats::{Recorder, Summary};
use crate::track::Tracker;

/// Where orders go: producer-service over HTTP, or Kafka directly.
pub trait Target: Send + Sync + 'static {
    /// Sends one order and says what came back.
    fn send(&self, order: &Order) -> impl Future<Output = Answer> + Send;
}

/// What one order got.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `"201"`, `"acked"`, `"503"`, `"error: connect"`…
    pub label: Cow<'static, str>,
    /// True if the broker stored the order (`201`, or `acked` in raw mode).
    pub stored: bool,
}

/// How orders are issued.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// `concurrency` workers, one order in flight each.
    Closed {
        /// Number of workers (and HTTP connections).
        concurrency: usize,
    },
    /// A fixed arrival rate, orders per second. At most `max_outstanding`
    /// orders wait for an answer; orders due beyond that are not sent and
    /// are counted as skipped.
    Open {
        /// Orders per second.
        rate: f64,
        /// Cap on orders awaiting an answer.
        max_outstanding: usize,
    },
}

/// When a run ends.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this long.
    Elapsed(Duration),
    /// After this many orders.
    Count(u64),
}

/// A run's figures.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Latencies and answers.
    pub summary: Summary,
    /// Open loop only: orders not sent because too many were outstanding.
    pub skipped: u64,
    /// Ids of the stored orders, when a tracker follows them.
    pub stored: Vec<Uuid>,
}

/// Runs `target` under `mode` until `until`, with a progress bar on stderr
/// when `progress` is set and stderr is a terminal. With a `tracker`, every
/// order is registered before it is sent.
pub async fn run<T: Target>(
    target: Arc<T>,
    mode: Mode,
    until: Until,
    progress: bool,
    tracker: Option<Arc<Tracker>>,
) -> Outcome {
    let done = Arc::new(AtomicU64::new(0));
    let bar = progress.then(|| progress_bar(until));
    let ticker = bar.clone().map(|bar| {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let n = done.load(Ordering::Relaxed);
                bar.set_position(match until {
                    Until::Count(_) => n,
                    Until::Elapsed(_) => {
                        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
                    }
                });
                bar.set_message(format!(
                    "{:.0} orders/s",
                    crate::stats::rate(n, started.elapsed())
                ));
            }
        })
    });

    let started = Instant::now();
    let (recorder, skipped, stored) = match mode {
        Mode::Closed { concurrency } => {
            let (recorder, stored) = closed(target, concurrency, until, &done, tracker).await;
            (recorder, 0, stored)
        }
        Mode::Open {
            rate,
            max_outstanding,
        } => open(target, rate, max_outstanding, until, &done, tracker).await,
    };
    let elapsed = started.elapsed();

    if let Some(ticker) = ticker {
        ticker.abort();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Outcome {
        summary: recorder.summary(elapsed),
        skipped,
        stored,
    }
}

fn progress_bar(until: Until) -> ProgressBar {
    let (len, template) = match until {
        Until::Count(n) => (n, "{bar:40} {pos}/{len} orders, {msg}"),
        Until::Elapsed(d) => (
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            "{bar:40} {elapsed}/{duration}, {msg}",
        ),
    };
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template(template).expect("valid progress template"));
    bar
}

/// Whether the run is over before issuing order number `issued` at `now`.
fn over(until: Until, started: Instant, now: Instant, issued: u64) -> bool {
    match until {
        Until::Elapsed(d) => now.duration_since(started) >= d,
        Until::Count(n) => issued >= n,
    }
}

async fn closed<T: Target>(
    target: Arc<T>,
    concurrency: usize,
    until: Until,
    done: &Arc<AtomicU64>,
    tracker: Option<Arc<Tracker>>,
) -> (Recorder, Vec<Uuid>) {
    let started = Instant::now();
    let issued = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for worker in 0..concurrency {
        let (target, issued, done, tracker) = (
            Arc::clone(&target),
            Arc::clone(&issued),
            Arc::clone(done),
            tracker.clone(),
        );
        workers.spawn(async move {
            let mut orders = OrderGen::new(worker as u64);
            let mut recorder = Recorder::default();
            let mut stored = Vec::new();
            while !over(
                until,
                started,
                Instant::now(),
                issued.fetch_add(1, Ordering::Relaxed),
            ) {
                let order = orders.next_order();
                if let Some(tracker) = &tracker {
                    tracker.sending(order.order_id);
                }
                let sent = Instant::now();
                let answer = target.send(&order).await;
                recorder.record(sent.elapsed(), &answer.label, answer.stored);
                if answer.stored && tracker.is_some() {
                    stored.push(order.order_id);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            (recorder, stored)
        });
    }
    let mut all = Recorder::default();
    let mut stored = Vec::new();
    while let Some(result) = workers.join_next().await {
        let (recorder, ids) = result.expect("load worker");
        all.merge(&recorder);
        stored.extend(ids);
    }
    (all, stored)
}

async fn open<T: Target>(
    target: Arc<T>,
    rate: f64,
    max_outstanding: usize,
    until: Until,
    done: &Arc<AtomicU64>,
    tracker: Option<Arc<Tracker>>,
) -> (Recorder, u64, Vec<Uuid>) {
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    let stored = Arc::new(Mutex::new(Vec::new()));
    let outstanding = Arc::new(AtomicUsize::new(0));
    let mut orders = OrderGen::new(0);
    let mut in_flight = JoinSet::new();
    let mut skipped = 0;
    let started = Instant::now();
    for i in 0_u64.. {
        #[allow(clippy::cast_precision_loss)] // i stays far below 2^52
        let due = started + Duration::from_secs_f64(i as f64 / rate);
        if over(until, started, due, i) {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        while in_flight.try_join_next().is_some() {}
        if outstanding.load(Ordering::Relaxed) >= max_outstanding {
            skipped += 1;
            continue;
        }
        outstanding.fetch_add(1, Ordering::Relaxed);
        let order = orders.next_order();
        if let Some(tracker) = &tracker {
            tracker.sending(order.order_id);
        }
        let (target, recorder, stored, outstanding, done, tracking) = (
            Arc::clone(&target),
            Arc::clone(&recorder),
            Arc::clone(&stored),
            Arc::clone(&outstanding),
            Arc::clone(done),
            tracker.is_some(),
        );
        in_flight.spawn(async move {
            let answer = target.send(&order).await;
            // From when the order was due, not when it was sent.
            let latency = due.elapsed();
            recorder
                .lock()
                .expect("recorder")
                .record(latency, &answer.label, answer.stored);
            if answer.stored && tracking {
                stored.lock().expect("stored ids").push(order.order_id);
            }
            outstanding.fetch_sub(1, Ordering::Relaxed);
            done.fetch_add(1, Ordering::Relaxed);
        });
    }
    while in_flight.join_next().await.is_some() {}
    let recorder = recorder.lock().expect("recorder").clone();
    let stored = std::mem::take(&mut *stored.lock().expect("stored ids"));
    (recorder, skipped, stored)
}

#[cfg(test)]
mod tests;
