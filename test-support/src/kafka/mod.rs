//! Apache Kafka itself for the end-to-end suite and the benchmark: a
//! [`local_kafka::Cluster`] (one KRaft node, a cluster, ZooKeeper mode,
//! SCRAM users, TLS) started the way the `local-kafka` command starts it,
//! with the panicking API tests want, the checks tests make on it
//! (`inspect.rs`) and what they do to its data (`admin.rs`).
//!
//! Kafka is found in `KAFKA_HOME` (the folder with `libs/`, as
//! `scripts/e2e.sh` sets it, having fetched it once before the tests run
//! in parallel), else in `local-kafka`'s cache, fetched there if missing.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::time::Duration;

use local_kafka::{Cluster, Home, Mode, Options, Ports, User, fetch};
use rdkafka::consumer::BaseConsumer;

mod admin;
mod inspect;

pub use local_kafka::{Certificates, KAFKA_VERSION, ORDERS_PARTITIONS};

/// How the client listener is secured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Security<'a> {
    /// SCRAM users (name, password), created through Kafka's admin API as
    /// the broker starts; none: no SASL.
    pub users: &'a [(&'a str, &'a str)],
    /// TLS, with certificates made for the test ([`Cluster::certificates`]).
    pub tls: bool,
    /// With `tls`: the broker requires a client certificate signed by the
    /// test's CA (mutual TLS).
    pub client_auth: bool,
}

/// A Kafka cluster with `orders` (6 partitions) and `orders.dlq`; every
/// process is killed and the data removed when dropped. It derefs to the
/// [`Cluster`], whose fields (`bootstrap`, `internal`, `certificates`) and
/// infallible methods (`kill`, `crash`, `node_ids`) tests use as they are;
/// the fallible ones are wrapped here to panic, as tests want.
pub struct Broker {
    cluster: Cluster,
}

impl Deref for Broker {
    type Target = Cluster;

    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

impl DerefMut for Broker {
    fn deref_mut(&mut self) -> &mut Cluster {
        &mut self.cluster
    }
}

impl Broker {
    /// Starts one node on free ports, waits until it answers, and creates
    /// the topics.
    ///
    /// # Panics
    /// If Kafka is missing and cannot be fetched, or does not come up
    /// within two minutes.
    pub fn start() -> Self {
        Self::launch(Mode::KRaft, 1, &Security::default())
    }

    /// Starts a cluster of `nodes` KRaft nodes (each broker and controller,
    /// a quorum of `nodes`) whose topics have `min(nodes, 3)` replicas and
    /// `min.insync.replicas=2` (1 on a single node); unclean leader election
    /// is off.
    ///
    /// # Panics
    /// As [`Broker::start`].
    pub fn cluster(nodes: usize) -> Self {
        Self::launch(Mode::KRaft, nodes, &Security::default())
    }

    /// [`Broker::cluster`] whose nodes [`Broker::partition`] can cut off the
    /// network (each in a cgroup of its own; needs root and iptables).
    ///
    /// # Panics
    /// As [`Broker::start`].
    pub fn isolated_cluster(nodes: usize) -> Self {
        Self::launch_on(Mode::KRaft, nodes, &Security::default(), Ports::Free, true)
    }

    /// Apache Kafka 3.9 in ZooKeeper mode, one broker and ZooKeeper, as
    /// `docker-compose.yml` runs them.
    ///
    /// # Panics
    /// As [`Broker::start`].
    pub fn zookeeper() -> Self {
        Self::launch(Mode::ZooKeeper, 1, &Security::default())
    }

    /// A one-node broker that requires SASL (`SASL_PLAINTEXT`,
    /// `SCRAM-SHA-512`) on its client listener and knows `users` (name,
    /// password). [`Broker::client`] logs in as the first user.
    ///
    /// # Panics
    /// As [`Broker::start`].
    pub fn start_with_users(users: &[(&str, &str)]) -> Self {
        Self::start_secured(&Security {
            users,
            ..Security::default()
        })
    }

    /// A one-node broker whose client listener is secured as `security`
    /// says; the internal listener stays plain, for the test's checks.
    ///
    /// # Panics
    /// As [`Broker::start`], or if the certificates cannot be made.
    pub fn start_secured(security: &Security) -> Self {
        Self::launch(Mode::KRaft, 1, security)
    }

    /// Stops this one-node cluster and removes its data, then starts a new,
    /// empty one (another cluster id) on the same client port: what clients
    /// see of a dev broker restarted without its data, or a rebuilt test
    /// cluster.
    ///
    /// # Panics
    /// As [`Broker::start`], or if the port is not this broker's.
    pub fn replaced(self) -> Self {
        let port: u16 = self
            .bootstrap
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("bootstrap is host:port");
        drop(self);
        Self::launch_on(
            Mode::KRaft,
            1,
            &Security::default(),
            Ports::From(port),
            false,
        )
    }

    fn launch(mode: Mode, nodes: usize, security: &Security) -> Self {
        Self::launch_on(mode, nodes, security, Ports::Free, false)
    }

    fn launch_on(
        mode: Mode,
        nodes: usize,
        security: &Security,
        ports: Ports,
        isolate: bool,
    ) -> Self {
        let mut options = Options::new(home(mode), mode);
        options.ports = ports;
        options.isolate = isolate;
        options.brokers = nodes;
        options.security.users = users(security.users);
        options.security.tls = security.tls;
        options.security.client_auth = security.client_auth;
        // Errors only: the tests read the services' logs, not Kafka's.
        options.log_level = "ERROR".to_owned();
        let cluster = Cluster::start(options)
            .unwrap_or_else(|error| panic!("Apache Kafka ({mode}) did not start: {error:#}"));
        Self { cluster }
    }

    /// The process id of the first node.
    ///
    /// # Panics
    /// If it is not running.
    pub fn pid(&self) -> u32 {
        self.cluster.node_pid(1).expect("node 1 runs")
    }

    /// Stops node `id` with SIGTERM (a controlled shutdown: it hands its
    /// leaderships over first) and waits up to a minute for it to exit.
    ///
    /// # Panics
    /// If it does not exit in time.
    pub fn stop(&mut self, id: i32) {
        let stopped = self.cluster.stop(id, Duration::from_secs(60));
        stopped.unwrap_or_else(|error| panic!("{error:#}"));
    }

    /// Freezes node `id` (SIGSTOP), or thaws it (SIGCONT): a broker that
    /// stops answering without closing its connections.
    ///
    /// # Panics
    /// If it does not run.
    pub fn freeze(&self, id: i32, frozen: bool) {
        let frozen = self.cluster.freeze(id, frozen);
        frozen.unwrap_or_else(|error| panic!("{error:#}"));
    }

    /// Cuts node `id` off from the clients and the other nodes (`cut`), or
    /// heals it: its process runs on, its connections hang.
    ///
    /// # Panics
    /// If the cluster is not an [`Broker::isolated_cluster`], or iptables
    /// refuses.
    pub fn partition(&mut self, id: i32, cut: bool) {
        let done = self.cluster.partition(id, cut);
        done.unwrap_or_else(|error| panic!("{error:#}"));
    }

    /// Starts every node that is not running again, on the same ports and
    /// data, and waits until the whole cluster answers.
    ///
    /// # Panics
    /// If it does not within two minutes.
    pub fn restart(&mut self) {
        let restarted = self.cluster.restart();
        restarted.unwrap_or_else(|error| panic!("restart: {error:#}"));
    }

    /// Sets the SCRAM password of each of `users` (creating them if new),
    /// the Kafka way, while the broker runs. [`Broker::client`] logs in with
    /// the new password from then on.
    ///
    /// # Panics
    /// If Kafka's config tool fails.
    pub fn set_users(&mut self, users: &[(&str, &str)]) {
        let set = self.cluster.set_users(&self::users(users));
        set.unwrap_or_else(|error| panic!("{error:#}"));
    }

    /// Creates `name` with `partitions` partitions, replicated on every
    /// node (at most three).
    ///
    /// # Panics
    /// If Kafka refuses.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let created = self.cluster.create_topic(name, partitions);
        created.unwrap_or_else(|error| panic!("{error:#}"));
    }

    /// A client of the client listener, as the services see it: logged in
    /// and over TLS when the broker requires it.
    pub fn client(&self) -> BaseConsumer {
        self.cluster
            .client_config()
            .create()
            .expect("client created")
    }

    /// A client of the plain listeners.
    fn internal_client(&self) -> BaseConsumer {
        self.cluster
            .admin_config()
            .create()
            .expect("client created")
    }
}

fn users(users: &[(&str, &str)]) -> Vec<User> {
    users
        .iter()
        .map(|(name, password)| User {
            name: (*name).to_owned(),
            password: (*password).to_owned(),
        })
        .collect()
}

/// Kafka for `mode`: `KAFKA_HOME` (KRaft mode only), or local-kafka's cache.
fn home(mode: Mode) -> Home {
    let kraft_home = std::env::var_os("KAFKA_HOME").filter(|_| mode == Mode::KRaft);
    let home = match kraft_home {
        Some(dir) => Home::at(PathBuf::from(dir), KAFKA_VERSION),
        None => {
            let cache =
                std::env::var_os("KAFKA_CACHE").map_or_else(fetch::default_cache, PathBuf::from);
            let version = match mode {
                Mode::KRaft => KAFKA_VERSION,
                Mode::ZooKeeper => local_kafka::ZOOKEEPER_KAFKA_VERSION,
            };
            fetch::install(&cache, version, &local_kafka::Interrupt::default())
        }
    };
    home.unwrap_or_else(|error| panic!("Apache Kafka not found: {error:#}"))
}
