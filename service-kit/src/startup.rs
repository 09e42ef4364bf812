//! What both binaries do once their settings are parsed: answer the
//! `healthcheck` subcommand, or set up logs and run the service, logging a
//! failure exactly once, in the configured log format.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use crate::healthcheck::{self, Command};
use crate::telemetry::LogArgs;

/// Runs `service` (a future that serves until its shutdown signal) with
/// logs set up as `log` says, or probes the instance whose management
/// listener is at `management_addr` when `command` is `healthcheck`. The exit code says whether it went well.
pub async fn main(
    name: &'static str,
    command: Option<Command>,
    management_addr: SocketAddr,
    log: &LogArgs,
    service: impl Future<Output = anyhow::Result<()>>,
) -> ExitCode {
    if let Some(Command::Healthcheck) = command {
        return healthcheck::check(management_addr);
    }
    let telemetry = match log.init(name) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            // No logger yet: standard error is all there is.
            eprintln!("{name}: cannot set up logging: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = service.await;
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "{name} failed");
    }
    // Exporting the last spans blocks; it must not run on a runtime thread.
    if tokio::task::spawn_blocking(|| telemetry.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("the span exporter's shutdown panicked");
    }
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
