//! Draining a prefilled topic with consumer-service: its rate, read from
//! the timestamps of its "order processed" log lines, for one instance or
//! several in one group.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use time::OffsetDateTime;

use crate::service::Service;

/// Starts `instances` consumer-services in a new group on `topic`, waits
/// until together they processed `count` orders, stops them, and returns
/// their rate.
pub async fn drain(
    binary: &Path,
    brokers: &str,
    topic: &str,
    instances: usize,
    count: u64,
    dir: &Path,
) -> anyhow::Result<f64> {
    let group = format!("bench-{topic}-{instances}-{}", std::process::id());
    let consumers = (0..instances)
        .map(|i| {
            Service::start(
                binary,
                &[
                    ("KAFKA_BROKERS", brokers),
                    ("MANAGEMENT_ADDR", "127.0.0.1:0"),
                    ("ORDERS_TOPIC", topic),
                    ("CONSUMER_GROUP", &group),
                    // Members hear of a rebalance in a heartbeat's answer:
                    // at librdkafka's default 3 s, an instance that starts a
                    // moment late joins after the others drained the topic,
                    // and the group never settles while there is work left.
                    ("KAFKA_PROPERTIES", "heartbeat.interval.ms=100"),
                ],
                dir.join(format!("consumer-service-{instances}-{i}.log")),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rate = processed_rate(&consumers, count).await?;
    for consumer in consumers {
        consumer.stop().context("consumer-service")?;
    }
    Ok(rate)
}

/// Waits until `consumers` logged `count` processed orders between them and
/// returns their rate, from the logs' timestamps, once the group settled:
/// from the first order processed after the last "partitions assigned" line
/// to the last order (the group join, and for several instances the
/// rebalances while they join, are left out, as the plain consumer's
/// connection set-up is). The logs are read incrementally, so
/// waiting costs the measured services little CPU.
pub async fn processed_rate(consumers: &[Service], count: u64) -> anyhow::Result<f64> {
    const PROCESSED: &str = r#""message":"order processed""#;
    const ASSIGNED: &str = r#""message":"partitions assigned""#;
    // A log writer that falls behind drops lines and says how many: those
    // orders were processed all the same (on a busy machine, hundreds).
    const DROPPED: &str = r#""message":"log lines dropped"#;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut logs = consumers
        .iter()
        .map(|c| Log::open(&c.log))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut processed = Vec::new();
    let mut dropped = 0;
    let mut settled = None::<OffsetDateTime>;
    while (processed.len() as u64) + dropped < count {
        if Instant::now() > deadline {
            bail!(
                "consumer-service processed {} of {count} orders in 300 s",
                processed.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        for log in &mut logs {
            for line in log.new_lines()? {
                if line.contains(PROCESSED) {
                    processed.push(timestamp(&line)?);
                } else if line.contains(DROPPED) {
                    dropped += dropped_count(&line)?;
                } else if line.contains(ASSIGNED) {
                    let at = timestamp(&line)?;
                    settled = Some(settled.map_or(at, |s| s.max(at)));
                }
            }
        }
    }
    let settled = settled.context("no partitions assigned line")?;
    let after: Vec<OffsetDateTime> = processed.into_iter().filter(|at| *at >= settled).collect();
    if dropped > count / 100 {
        bail!("{dropped} of {count} order lines were dropped: the rate would be a guess");
    }
    if (after.len() as u64) < count / 2 {
        bail!(
            "only {} of {count} orders were processed after the group settled: drain more",
            after.len()
        );
    }
    let first = after.iter().min().copied().context("no order processed")?;
    let last = after.iter().max().copied().context("no order processed")?;
    let span = Duration::try_from(last - first).context("timestamps out of order")?;
    // Lines dropped after the group settled are orders processed within
    // the span.
    Ok(loadgen::stats::rate(after.len() as u64 + dropped - 1, span))
}

fn dropped_count(line: &str) -> anyhow::Result<u64> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    value["dropped"].as_u64().context("no dropped count")
}

/// A log file read as it grows.
struct Log {
    file: std::fs::File,
    pending: String,
}

impl Log {
    fn open(path: &PathBuf) -> anyhow::Result<Self> {
        Ok(Self {
            file: std::fs::File::open(path)?,
            pending: String::new(),
        })
    }

    /// The complete lines written since the last call.
    fn new_lines(&mut self) -> anyhow::Result<Vec<String>> {
        self.file.read_to_string(&mut self.pending)?;
        let complete = self.pending.rfind('\n').map_or(0, |end| end + 1);
        let lines = self.pending[..complete]
            .lines()
            .map(str::to_owned)
            .collect();
        self.pending.drain(..complete);
        Ok(lines)
    }
}

fn timestamp(line: &str) -> anyhow::Result<OffsetDateTime> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    let stamp = value["timestamp"].as_str().context("no timestamp")?;
    Ok(OffsetDateTime::parse(
        stamp,
        &time::format_description::well_known::Rfc3339,
    )?)
}
