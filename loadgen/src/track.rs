//! Following orders into the topic: a plain consumer reads the topic from
//! its end while the load runs, and matches each record's key (the
//! `order_id`) with the time the order was sent, for produce-to-consume
//! latency and for lost and duplicated orders.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset};
use uuid::Uuid;

use crate::stats::{Recorder, Summary};

/// Registers orders as they are sent and reads them back from the topic.
pub struct Tracker {
    sent: Mutex<HashMap<Uuid, Instant>>,
    seen: Mutex<(Recorder, HashMap<Uuid, u32>)>,
    stop: AtomicBool,
    reader: Mutex<Option<JoinHandle<()>>>,
}

/// What the tracker found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Send-to-consume latency of the orders read back.
    pub latency: Summary,
    /// Stored orders never read back.
    pub lost: usize,
    /// Orders read more than once.
    pub duplicated: usize,
}

impl Tracker {
    /// Positions a reader at the current end of every partition of `topic`
    /// and starts reading on a thread of its own.
    ///
    /// # Errors
    /// If the consumer cannot be created or the topic's metadata cannot be read.
    pub fn start(brokers: &str, topic: &str) -> anyhow::Result<Arc<Self>> {
        // From the high watermark, resolved now rather than at the first
        // fetch, which may come after the first orders were stored.
        let consumer = crate::drain::reader(brokers, topic, |consumer, partition| {
            let (_, high) = consumer
                .fetch_watermarks(topic, partition, Duration::from_secs(10))
                .context("cannot read the watermarks")?;
            Ok(Offset::Offset(high))
        })?;

        let tracker = Arc::new(Self {
            sent: Mutex::new(HashMap::new()),
            seen: Mutex::new((Recorder::default(), HashMap::new())),
            stop: AtomicBool::new(false),
            reader: Mutex::new(None),
        });
        let reading = Arc::clone(&tracker);
        let handle = std::thread::spawn(move || reading.read(&consumer));
        *tracker.reader.lock().expect("reader") = Some(handle);
        Ok(tracker)
    }

    /// Notes that `order_id` is being sent now.
    pub fn sending(&self, order_id: Uuid) {
        self.sent
            .lock()
            .expect("sent orders")
            .insert(order_id, Instant::now());
    }

    fn read(&self, consumer: &BaseConsumer) {
        while !self.stop.load(Ordering::Relaxed) {
            let Some(Ok(record)) = consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let received = Instant::now();
            let Some(id) = record
                .key()
                .and_then(|key| std::str::from_utf8(key).ok())
                .and_then(|key| key.parse::<Uuid>().ok())
            else {
                continue;
            };
            // Orders of other clients are not ours to time.
            let Some(sent) = self.sent.lock().expect("sent orders").get(&id).copied() else {
                continue;
            };
            let mut seen = self.seen.lock().expect("seen orders");
            let count = seen.1.entry(id).or_default();
            *count += 1;
            if *count == 1 {
                seen.0
                    .record(received.duration_since(sent), "consumed", true);
            }
        }
    }

    /// Waits up to `grace` for every id in `stored` to be read back, stops
    /// reading, and reports.
    pub fn finish(&self, stored: &[Uuid], grace: Duration) -> Report {
        let started = Instant::now();
        let deadline = started + grace;
        let missing =
            |seen: &HashMap<Uuid, u32>| stored.iter().filter(|id| !seen.contains_key(id)).count();
        while Instant::now() < deadline && missing(&self.seen.lock().expect("seen orders").1) > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(reader) = self.reader.lock().expect("reader").take() {
            reader.join().expect("tracking reader");
        }
        let seen = self.seen.lock().expect("seen orders");
        Report {
            latency: seen.0.summary(started.elapsed()),
            lost: missing(&seen.1),
            duplicated: seen.1.values().filter(|&&n| n > 1).count(),
        }
    }
}
