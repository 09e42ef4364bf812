//! The plumbing `producer-service` and `consumer-service` share, so that each
//! service crate holds only its own logic: Kafka client settings from the
//! environment, log set-up, the management listener (`/livez`, `/readyz`,
//! `/metrics`), the shutdown signal and what `main` does around the service.

pub mod client_context;
pub mod health;
pub mod healthcheck;
pub mod http;
pub mod kafka;
pub mod management;
pub mod metrics;
pub mod secret;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
pub mod trace_context;

pub use client_context::ServiceContext;
pub use health::Readiness;
pub use kafka::KafkaArgs;
pub use secret::Secret;
pub use shutdown::shutdown_signal;
pub use telemetry::LogArgs;
