//! Entry point: read config, set up logs, serve until SIGTERM or ctrl-c.

use clap::Parser;
use producer_service::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    service_kit::telemetry::init(config.log_format)?;
    producer_service::run(config, service_kit::shutdown_signal()).await
}
