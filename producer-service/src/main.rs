//! Entry point: parse the settings, then serve until SIGTERM or ctrl-c; or,
//! with `healthcheck`, probe a running instance.

use std::process::ExitCode;

use clap::Parser;
use producer_service::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let (command, log) = (config.command.clone(), config.log.clone());
    let management_addr = config.management_addr;
    let service = producer_service::run(config, service_kit::shutdown_signal());
    service_kit::startup::main("producer-service", command, management_addr, &log, service).await
}
