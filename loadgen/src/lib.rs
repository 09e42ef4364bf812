//! loadgen: measures producer-service. It sends realistic random orders
//! ([`orders`]) to a [`run::Target`], either the service over HTTP
//! ([`http`]) or Kafka directly with the service's own producer ([`raw`]),
//! in a closed or open loop ([`run`]), and records latency percentiles and
//! answers ([`stats`]). [`track`] follows the orders into the topic for
//! produce-to-consume latency; [`drain`] is the plain-consumer baseline.
//!
//! The `loadgen` binary is the command line; the benchmark (`bench`) calls
//! the same functions.

pub mod drain;
pub mod http;
pub mod orders;
pub mod raw;
pub mod records;
pub mod run;
pub mod stats;
pub mod track;
