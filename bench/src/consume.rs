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
                    ("HTTP_ADDR", "127.0.0.1:0"),
                    ("ORDERS_TOPIC", topic),
                    ("CONSUMER_GROUP", &group),
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
/// returns their rate from the first line to the last, from the logs'
/// timestamps (the group join before the first is left out, as the plain
/// consumer's connection set-up is). The logs are read incrementally, so
/// waiting costs the measured services little CPU.
pub async fn processed_rate(consumers: &[Service], count: u64) -> anyhow::Result<f64> {
    const PROCESSED: &str = r#""message":"order processed""#;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut logs = consumers
        .iter()
        .map(|c| Log::open(&c.log))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (mut seen, mut first, mut last) = (0_u64, None::<OffsetDateTime>, None::<OffsetDateTime>);
    while seen < count {
        if Instant::now() > deadline {
            bail!("consumer-service processed {seen} of {count} orders in 300 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        for log in &mut logs {
            for line in log.new_lines()?.iter().filter(|l| l.contains(PROCESSED)) {
                seen += 1;
                let at = timestamp(line)?;
                first = Some(first.map_or(at, |f| f.min(at)));
                last = Some(last.map_or(at, |l| l.max(at)));
            }
        }
    }
    let span = last.context("no last line")? - first.context("no first line")?;
    let span = Duration::try_from(span).context("timestamps out of order")?;
    Ok(loadgen::stats::rate(count - 1, span))
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
