//! What the consumer's test files share: the binary as a child process on
//! a mock cluster.

#![allow(dead_code)] // each test file uses a different subset

use test_support::{MockKafka, ServiceProcess};

/// The mock coordinator waits almost a session timeout before it
/// rebalances a group whose last member left; keep that short.
pub const GROUP_TIMING: &str = "session.timeout.ms=3000;heartbeat.interval.ms=500";

/// The consumer binary on `kafka`, committing every 200 ms, with
/// `properties` (`key=value;…`) added to its clients' settings and `env`
/// added to its environment.
pub fn start_consumer(kafka: &MockKafka, properties: &str, env: &[(&str, &str)]) -> ServiceProcess {
    let properties = format!("{GROUP_TIMING};{properties}");
    let mut variables = vec![
        ("KAFKA_BROKERS", kafka.bootstrap.as_str()),
        ("MANAGEMENT_ADDR", "127.0.0.1:0"),
        ("COMMIT_INTERVAL_MS", "200"),
        ("KAFKA_PROPERTIES", properties.trim_end_matches(';')),
    ];
    variables.extend_from_slice(env);
    ServiceProcess::spawn(env!("CARGO_BIN_EXE_consumer-service"), &[], &variables)
}
