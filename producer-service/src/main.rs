//! Entry point: read config, set up logs, serve until SIGTERM or ctrl-c.

use clap::Parser;
use producer_service::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    config.log.init()?;
    producer_service::run(config, service_kit::shutdown_signal()).await
}
