//! The loadgen command line; `loadgen --help` is the reference.

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use loadgen::run::{self, Mode, Target, Until};
use loadgen::track::Tracker;

/// Load generator for producer-service.
#[derive(Parser)]
#[command(name = "loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// POST orders to producer-service.
    Http {
        /// Base URL of producer-service.
        #[arg(long, env = "LOADGEN_URL", default_value = "http://localhost:8080")]
        url: String,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Publish orders straight to Kafka with producer-service's producer and
    /// settings (its environment variables apply), for the HTTP layer's cost.
    Raw {
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Read a topic from the beginning and drop every record: the baseline
    /// for consumer-service's throughput.
    Drain {
        /// Kafka bootstrap brokers.
        #[arg(long, env = "KAFKA_BROKERS", default_value = "localhost:9092")]
        brokers: String,
        /// Topic to read.
        #[arg(long, env = "ORDERS_TOPIC", default_value = "orders")]
        topic: String,
        /// Records to read.
        #[arg(long)]
        count: u64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
    /// Write one record exactly as given, bypassing producer-service's
    /// validation: for experiments with poison records.
    Send {
        /// Kafka bootstrap brokers.
        #[arg(long, env = "KAFKA_BROKERS", default_value = "localhost:9092")]
        brokers: String,
        /// Topic to write to.
        #[arg(long, env = "ORDERS_TOPIC", default_value = "orders")]
        topic: String,
        /// The record key.
        #[arg(long)]
        key: Option<String>,
        /// The record value, as it is.
        value: String,
    },
    /// Print the first records of a topic with their keys and headers, one
    /// JSON object per line.
    Show {
        /// Kafka bootstrap brokers.
        #[arg(long, env = "KAFKA_BROKERS", default_value = "localhost:9092")]
        brokers: String,
        /// Topic to read.
        #[arg(long, default_value = "orders")]
        topic: String,
        /// Records to print.
        #[arg(long, default_value_t = 1)]
        count: u64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
}

#[derive(Args)]
struct LoadArgs {
    /// Closed loop: workers (and connections), each with one order in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Open loop instead: orders per second, sent on schedule whatever the
    /// answers; latency counts from each order's scheduled time.
    #[arg(long)]
    rate: Option<f64>,
    /// Open loop: most orders awaiting an answer; orders due beyond it are
    /// skipped and counted.
    #[arg(long, default_value_t = 10_000)]
    max_outstanding: usize,
    /// Run this many seconds.
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// Send this many orders instead of running for a duration.
    #[arg(long)]
    count: Option<u64>,
    /// Also read the topic back: produce-to-consume latency, lost and
    /// duplicated orders.
    #[arg(long)]
    track: bool,
    /// Kafka bootstrap brokers (raw mode and --track).
    #[arg(long, env = "KAFKA_BROKERS", default_value = "localhost:9092")]
    brokers: String,
    /// The orders topic (raw mode and --track).
    #[arg(long, env = "ORDERS_TOPIC", default_value = "orders")]
    topic: String,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

impl LoadArgs {
    fn mode(&self) -> Mode {
        match self.rate {
            Some(rate) => Mode::Open {
                rate,
                max_outstanding: self.max_outstanding,
            },
            None => Mode::Closed {
                concurrency: self.concurrency,
            },
        }
    }

    fn until(&self) -> Until {
        self.count.map_or_else(
            || Until::Elapsed(Duration::from_secs_f64(self.duration_secs)),
            Until::Count,
        )
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Http { url, load } => drive(loadgen::http::HttpTarget::new(&url)?, &load).await,
        Command::Raw { load } => {
            drive(
                loadgen::raw::RawTarget::new(&load.brokers, &load.topic)?,
                &load,
            )
            .await
        }
        Command::Drain {
            brokers,
            topic,
            count,
            timeout_secs,
        } => {
            let drained = tokio::task::spawn_blocking(move || {
                loadgen::drain::drain(&brokers, &topic, count, Duration::from_secs(timeout_secs))
            })
            .await??;
            println!(
                "{} records in {:.2} s: {:.0}/s",
                drained.records,
                drained.elapsed.as_secs_f64(),
                drained.rate()
            );
            Ok(())
        }
        Command::Send {
            brokers,
            topic,
            key,
            value,
        } => {
            let (partition, offset) =
                loadgen::records::send(&brokers, &topic, key.as_deref(), &value).await?;
            println!("{topic} partition {partition} offset {offset}");
            Ok(())
        }
        Command::Show {
            brokers,
            topic,
            count,
            timeout_secs,
        } => {
            tokio::task::spawn_blocking(move || {
                loadgen::records::show(&brokers, &topic, count, Duration::from_secs(timeout_secs))
            })
            .await?
        }
    }
}

async fn drive(target: impl Target, load: &LoadArgs) -> anyhow::Result<()> {
    let tracker = if load.track {
        let (brokers, topic) = (load.brokers.clone(), load.topic.clone());
        Some(tokio::task::spawn_blocking(move || Tracker::start(&brokers, &topic)).await??)
    } else {
        None
    };
    let outcome = run::run(
        Arc::new(target),
        load.mode(),
        load.until(),
        !load.quiet,
        tracker.clone(),
    )
    .await;
    println!("{}", outcome.summary);
    if outcome.skipped > 0 {
        println!("skipped (too many outstanding): {}", outcome.skipped);
    }
    if let Some(tracker) = tracker {
        let report = tokio::task::spawn_blocking(move || {
            tracker.finish(&outcome.stored, Duration::from_secs(30))
        })
        .await?;
        println!(
            "produce to consume, ms: {}; lost {}, duplicated {}",
            report.latency.percentiles(),
            report.lost,
            report.duplicated
        );
    }
    Ok(())
}
