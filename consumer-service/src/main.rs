//! Entry point: read config, set up logs, consume until SIGTERM or ctrl-c.

use clap::Parser;
use consumer_service::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    service_kit::telemetry::init(config.log_format)?;
    consumer_service::run(config, service_kit::shutdown_signal()).await
}
