//! Apache Kafka itself, without Docker: its jars fetched once from Maven
//! Central into a cache ([`fetch`]), then run as child `java` processes on
//! loopback ([`Cluster`]): one KRaft node (broker and controller in one
//! JVM), a cluster of several, or Kafka 3.9 in ZooKeeper mode next to a
//! ZooKeeper; the client listener plain, with SASL SCRAM users, or TLS.
//!
//! The one place that knows how to start Kafka locally: the `local-kafka`
//! command (what `scripts/local-broker.sh` runs) and the tests and the
//! benchmark (through `test-support`) start it the same way, so a setting
//! fixed for one is fixed for all.
//!
//! Each node listens on 127.0.0.1 only: `CLIENT` for the services, and,
//! when that listener needs authentication or TLS, a plain `INTERNAL` one
//! for replication and this crate's own administration (creating topics
//! and users, checks that bypass authentication); `CONTROLLER` for the
//! KRaft quorum.

mod admin;
mod cluster;
mod config;
mod control;
pub mod fetch;
mod isolation;
mod java;
mod options;
mod ready;
mod storage;
mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use cluster::Cluster;
pub use control::Exited;
pub use fetch::Home;
pub use java::check_java;
pub use options::{Mode, Options, Ports, Security, User, parse_users};
pub use tls::Certificates;

/// The Kafka version of KRaft mode, as in docker-compose.kraft.yml.
pub const KAFKA_VERSION: &str = "4.1.0";

/// The Kafka version of ZooKeeper mode: the last 3.9 (ZooKeeper mode was
/// removed in 4.0); docker-compose.yml's confluentinc/cp-kafka:7.9.0 ships
/// 3.9.0.
pub const ZOOKEEPER_KAFKA_VERSION: &str = "3.9.1";

/// Partitions of the `orders` topic, as in docker-compose.yml.
pub const ORDERS_PARTITIONS: i32 = 6;

/// The topics every cluster gets, with their partition counts.
pub const TOPICS: [(&str, i32); 2] = [("orders", ORDERS_PARTITIONS), ("orders.dlq", 1)];

/// Why Kafka could not be fetched or started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An [`Interrupt`] was raised meanwhile; what had started is stopped.
    #[error("interrupted")]
    Interrupted,
    /// A setting or the machine rules the start out (another layout in the
    /// data directory, no Java 17, no Maven): nothing was started.
    #[error("{0}")]
    Refused(String),
    /// Something failed on the way; the message says what and why.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// A request to stop, raised from elsewhere (a signal handler) and seen by
/// every wait of the start-up, and a second one that cuts the graceful
/// shutdown short. Clones share the flags.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    requested: Arc<AtomicBool>,
    forced: Arc<AtomicBool>,
}

impl Interrupt {
    /// Asks to stop; asked again, to stop at once. Returns whether this was
    /// the first request.
    pub fn raise(&self) -> bool {
        let first = !self.requested.swap(true, Ordering::SeqCst);
        if !first {
            self.forced.store(true, Ordering::SeqCst);
        }
        first
    }

    /// Whether stopping was asked for.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Whether stopping at once was asked for.
    pub fn forced(&self) -> bool {
        self.forced.load(Ordering::SeqCst)
    }

    /// Fails with [`Error::Interrupted`] if stopping was asked for.
    fn check(&self) -> Result<(), Error> {
        if self.requested() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}
