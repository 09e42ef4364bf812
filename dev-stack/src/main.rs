//! dev-stack: the whole pipeline in one process, for a machine with neither
//! Docker nor Kafka.
//!
//! It starts librdkafka's mock cluster (an in-process test broker that speaks
//! the Kafka protocol on loopback, not Apache Kafka), creates the topics, and
//! runs producer-service and consumer-service through their library `run`
//! functions. Both services read their usual environment variables; the
//! broker address is always the mock cluster's.

use anyhow::Context;
use clap::Parser;
use rdkafka::mocking::MockCluster;
use service_kit::telemetry::LogArgs;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

/// Settings of dev-stack itself; the services read theirs from the environment.
#[derive(Debug, Parser)]
#[command(name = "dev-stack", version, about)]
struct Args {
    /// Address of producer-service's API.
    #[arg(long, env = "PRODUCER_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    producer_addr: SocketAddr,

    /// Address of producer-service's management listener (probes, metrics).
    #[arg(
        long,
        env = "PRODUCER_MANAGEMENT_ADDR",
        default_value = "127.0.0.1:9080"
    )]
    producer_management_addr: SocketAddr,

    /// Address of consumer-service's management listener.
    #[arg(
        long,
        env = "CONSUMER_MANAGEMENT_ADDR",
        default_value = "127.0.0.1:9081"
    )]
    consumer_management_addr: SocketAddr,

    /// Number of mock brokers.
    #[arg(long, env = "MOCK_BROKERS", default_value_t = 1)]
    brokers: i32,

    /// Partitions of the orders topic.
    #[arg(long, env = "ORDERS_PARTITIONS", default_value_t = 6)]
    partitions: i32,

    /// Logging.
    #[command(flatten)]
    log: LogArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let telemetry = args.log.init("dev-stack")?;

    // Each service parses its own settings from the environment, exactly as
    // its binary would; only the addresses and the broker are overridden.
    let mut producer = producer_service::Config::try_parse_from(["producer-service"])?;
    let mut consumer = consumer_service::Config::try_parse_from(["consumer-service"])?;

    // The mock cluster is not Send: it lives on this thread, outside the runtime.
    let cluster = MockCluster::new(args.brokers).context("cannot start the mock cluster")?;
    let bootstrap = cluster.bootstrap_servers();
    cluster
        .create_topic(&producer.orders_topic, args.partitions, 1)
        .context("cannot create the orders topic")?;
    cluster
        .create_topic(&consumer.dlq_topic, 1, 1)
        .context("cannot create the dead-letter topic")?;

    producer.kafka.brokers.clone_from(&bootstrap);
    producer.http_addr = args.producer_addr;
    producer.management_addr = args.producer_management_addr;
    consumer.kafka.brokers.clone_from(&bootstrap);
    consumer.management_addr = args.consumer_management_addr;

    tracing::warn!(
        %bootstrap,
        "the broker is librdkafka's mock cluster, a test double kept in memory: not Apache Kafka"
    );
    tracing::info!(
        orders = %format_args!("http://{}/orders", args.producer_addr),
        producer_health = %format_args!("http://{}/readyz", args.producer_management_addr),
        consumer_health = %format_args!("http://{}/readyz", args.consumer_management_addr),
        %bootstrap,
        "dev-stack up: POST orders to the producer; ctrl-c stops"
    );

    tokio::runtime::Runtime::new()?.block_on(async move {
        let stop = CancellationToken::new();
        let signal = stop.clone();
        tokio::spawn(async move {
            service_kit::shutdown_signal().await;
            signal.cancel();
        });
        // If one service fails to start, the other is dropped with it.
        tokio::try_join!(
            async {
                producer_service::run(producer, stop.clone().cancelled_owned())
                    .await
                    .context("producer-service failed")
            },
            async {
                consumer_service::run(consumer, stop.clone().cancelled_owned())
                    .await
                    .context("consumer-service failed")
            },
        )
    })?;
    drop(cluster);
    telemetry.shutdown();
    Ok(())
}
