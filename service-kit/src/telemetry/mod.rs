//! Log output for both services (human-readable by default, JSON lines for
//! log shippers, filtered by `RUST_LOG`) and, when configured, span export
//! over OpenTelemetry's OTLP.
//!
//! Lines are formatted where they are logged and written by a thread of its
//! own, many to a write once the load is high ([`writer`]): at a line per
//! order, a write system call per line would cost about as much as the
//! order. The price is that a process killed with SIGKILL loses the lines
//! still pending (milliseconds' worth); an orderly exit writes them all.

mod json;
mod writer;

use std::io::IsTerminal;

use anyhow::Context;
use clap::{Args, ValueEnum};
use opentelemetry::trace::TracerProvider;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written to standard output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event, in colour on a terminal (unless
    /// `NO_COLOR` is set), plain otherwise.
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

    /// OTLP/HTTP collector to export spans to, e.g. `http://localhost:4318`
    /// (traces go to `/v1/traces` under it). Unset: no spans are exported
    /// and no exporter runs. The other standard `OTEL_EXPORTER_OTLP_*`
    /// variables (headers, timeout) apply too.
    #[arg(long = "otlp-endpoint", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

impl LogArgs {
    /// Installs the global subscriber: log lines filtered by `RUST_LOG`
    /// (default `info`), plus span export over OTLP (HTTP/protobuf) when
    /// [`otlp_endpoint`](Self::otlp_endpoint) is set.
    ///
    /// # Errors
    /// Fails if `RUST_LOG` does not parse, the exporter cannot be built, or
    /// a subscriber is already installed.
    pub fn init(&self, service_name: &'static str) -> anyhow::Result<Telemetry> {
        let filter = EnvFilter::try_from_default_env().or_else(|error| {
            if std::env::var_os(EnvFilter::DEFAULT_ENV).is_some() {
                Err(error)
            } else {
                Ok(EnvFilter::new("info"))
            }
        })?;
        let (writer, lines) =
            writer::Writer::start(std::io::stdout()).context("cannot start the log writer")?;
        let lines = tracing_subscriber::fmt::layer().with_writer(lines);
        let lines = match self.format {
            LogFormat::Text => lines.with_ansi(colour()).boxed(),
            // The current span's fields (request_id, trace_id) on every line.
            LogFormat::Json => lines
                .fmt_fields(json::JsonFields)
                .event_format(json::JsonLines)
                .boxed(),
        };
        let provider = match &self.otlp_endpoint {
            Some(endpoint) => Some(otlp_provider(service_name, endpoint)?),
            None => None,
        };
        let spans = provider.as_ref().map(|provider| {
            tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name))
        });
        tracing_subscriber::registry()
            .with(filter)
            .with(lines)
            .with(spans)
            .try_init()
            .map_err(|error| anyhow::anyhow!(error))?;
        if let Some(endpoint) = &self.otlp_endpoint {
            tracing::info!(%endpoint, "exporting spans over OTLP");
        }
        Ok(Telemetry {
            provider,
            writer: Some(writer),
        })
    }
}

/// Colour codes only for a person at a terminal: in a file or a log
/// collector they are noise (and break a grep for `order_id=…`).
/// `NO_COLOR` (<https://no-color.org>) turns them off there too.
fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn otlp_provider(service_name: &'static str, endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .context("cannot build the OTLP span exporter")?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service_name).build())
        .build())
}

/// Keeps span export and the log writer running; [`Telemetry::shutdown`]
/// sends what is left of both.
#[must_use = "dropping it without shutdown loses the last spans"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    /// Finished last: it writes what is pending, the span exporter's last
    /// words included.
    writer: Option<writer::Writer>,
}

impl Telemetry {
    /// Exports the spans still buffered. Blocks (call it off the runtime, or
    /// after it stopped).
    pub fn shutdown(mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                tracing::warn!(%error, "could not export the last spans");
            }
        }
        if let Some(writer) = self.writer.take() {
            writer.finish();
        }
    }
}
