//! Entry point: read config, set up logs, consume until SIGTERM or ctrl-c; or, with
//! `healthcheck`, probe a running instance.

use std::process::ExitCode;

use clap::Parser;
use consumer_service::Config;
use service_kit::healthcheck::{self, Command};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let Cli { command, config } = Cli::parse();
    if let Some(Command::Healthcheck) = command {
        return Ok(healthcheck::check(config.http_addr));
    }
    let telemetry = config.log.init("consumer-service")?;
    let result = consumer_service::run(config, service_kit::shutdown_signal()).await;
    // Exporting the last spans blocks; it must not run on a runtime thread.
    tokio::task::spawn_blocking(|| telemetry.shutdown()).await?;
    result?;
    Ok(ExitCode::SUCCESS)
}
