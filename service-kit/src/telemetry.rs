//! Log output for both services: human-readable by default, JSON lines for
//! log shippers, filtered by `RUST_LOG`.

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

/// How log lines are written to standard output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, fields at the top level.
    Json,
}

/// Logging settings, flattened into each binary's configuration.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log line format. The level comes from `RUST_LOG` (default `info`,
    /// e.g. `RUST_LOG=info,librdkafka=debug`).
    #[arg(long = "log-format", env = "LOG_FORMAT", value_enum, default_value_t)]
    pub format: LogFormat,
}

impl LogArgs {
    /// Installs the global subscriber. `RUST_LOG` overrides the default
    /// level, which is `info`.
    ///
    /// # Errors
    /// Fails if `RUST_LOG` does not parse or a subscriber is already installed.
    pub fn init(&self) -> anyhow::Result<()> {
        let filter = EnvFilter::try_from_default_env().or_else(|error| {
            if std::env::var_os(EnvFilter::DEFAULT_ENV).is_some() {
                Err(error)
            } else {
                Ok(EnvFilter::new("info"))
            }
        })?;
        let builder = tracing_subscriber::fmt().with_env_filter(filter);
        let installed = match self.format {
            LogFormat::Text => builder.try_init(),
            LogFormat::Json => builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .try_init(),
        };
        installed.map_err(|error| anyhow::anyhow!(error))
    }
}
