//! Entry point: read config, set up logs, consume until SIGTERM or ctrl-c.

use clap::Parser;
use consumer_service::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    config.log.init()?;
    consumer_service::run(config, service_kit::shutdown_signal()).await
}
