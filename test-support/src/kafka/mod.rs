//! Apache Kafka itself, as child processes: one KRaft node (broker and
//! controller in one JVM) or a cluster of several, the broker of the
//! end-to-end suite and the benchmark. `scripts/local-broker.sh` fetches
//! Kafka from Maven Central into a cache; `KAFKA_HOME` (the folder with
//! `libs/` and `log4j2.xml`) overrides where it is found.
//!
//! Each node has three listeners on loopback: `CLIENT` for the services
//! (plain, or SASL SCRAM-SHA-512 when the broker has users), `INTERNAL`
//! (plain) between brokers and for this harness's own administration, and
//! `CONTROLLER` for the KRaft quorum.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::ServiceProcess;

mod inspect;
mod setup;
mod tls;
mod zookeeper;

use setup::{cluster_id, fresh_dir, kafka_home};
pub use tls::Certificates;
pub use zookeeper::ZooKeeperKafka;

/// Runs `command` to its end.
///
/// # Panics
/// If it cannot start or fails; the message holds its standard error.
fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what} cannot run: {error}"));
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Partitions of the orders topic, as in docker-compose.yml.
pub const ORDERS_PARTITIONS: i32 = 6;

/// The Kafka version, as in docker-compose.kraft.yml and
/// scripts/local-broker.sh.
pub const KAFKA_VERSION: &str = "4.1.0";

/// The SASL mechanism of a broker with users.
const MECHANISM: &str = "SCRAM-SHA-512";

/// One JVM of the cluster.
struct Node {
    id: i32,
    client_port: u16,
    internal_port: u16,
    controller_port: u16,
    process: Option<ServiceProcess>,
}

/// A Kafka cluster of one or more KRaft nodes with `orders` (6 partitions)
/// and `orders.dlq`; every process is killed and the data removed when
/// dropped.
pub struct Broker {
    home: PathBuf,
    data: PathBuf,
    nodes: Vec<Node>,
    /// SCRAM-SHA-512 user and password that [`Broker::client`] logs in with,
    /// when the broker requires authentication.
    login: Option<(String, String)>,
    /// `host:port` list of the client listeners, for `KAFKA_BROKERS`.
    pub bootstrap: String,
    /// `host:port` list of the plain internal listeners, for checks that
    /// bypass authentication.
    pub internal: String,
    /// The CA and client files, when the client listener speaks TLS.
    pub certificates: Option<Certificates>,
}

/// How the client listener is secured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Security<'a> {
    /// SCRAM-SHA-512 users (name, password), created the Kafka way when the
    /// storage is formatted; none: no SASL.
    pub users: &'a [(&'a str, &'a str)],
    /// TLS, with certificates made for the test ([`Broker::certificates`]).
    pub tls: bool,
    /// With `tls`: the broker requires a client certificate signed by the
    /// test's CA (mutual TLS).
    pub client_auth: bool,
}

impl Security<'_> {
    /// The listener's `security.protocol`.
    fn protocol(&self) -> &'static str {
        match (self.users.is_empty(), self.tls) {
            (true, false) => "PLAINTEXT",
            (false, false) => "SASL_PLAINTEXT",
            (true, true) => "SSL",
            (false, true) => "SASL_SSL",
        }
    }
}

impl Broker {
    /// Starts one node on free ports, waits until it answers, and creates
    /// the topics.
    ///
    /// # Panics
    /// If Kafka is missing or does not come up within a minute.
    pub fn start() -> Self {
        Self::launch(1, &Security::default())
    }

    /// Starts a cluster of `nodes` KRaft nodes (each broker and controller,
    /// a quorum of `nodes`) whose topics have `min(nodes, 3)` replicas and
    /// `min.insync.replicas=2` (1 on a single node); unclean leader election
    /// is off.
    ///
    /// # Panics
    /// As [`Broker::start`].
    pub fn cluster(nodes: usize) -> Self {
        Self::launch(nodes, &Security::default())
    }

    /// A one-node broker that requires SASL (`SASL_PLAINTEXT`,
    /// `SCRAM-SHA-512`) on its client listener and knows `users` (name,
    /// password), created the Kafka way when the storage is formatted.
    /// [`Broker::client`] logs in as the first user.
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
        Self::launch(1, security)
    }

    fn launch(nodes: usize, security: &Security) -> Self {
        let users = security.users;
        let home = kafka_home();
        let data = fresh_dir();
        let nodes: Vec<Node> = (1..=i32::try_from(nodes).expect("few nodes"))
            .map(|id| Node {
                id,
                client_port: crate::free_port(),
                internal_port: crate::free_port(),
                controller_port: crate::free_port(),
                process: None,
            })
            .collect();
        let list = |port: fn(&Node) -> u16| {
            nodes
                .iter()
                .map(|node| format!("127.0.0.1:{}", port(node)))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut broker = Self {
            bootstrap: list(|node| node.client_port),
            internal: list(|node| node.internal_port),
            home,
            certificates: security.tls.then(|| Certificates::make(&data)),
            data,
            nodes,
            login: users
                .first()
                .map(|(name, password)| ((*name).to_owned(), (*password).to_owned())),
        };
        let cluster_id = cluster_id();
        for index in 0..broker.nodes.len() {
            broker.write_properties(index, security);
            broker.format(index, &cluster_id, users);
        }
        for index in 0..broker.nodes.len() {
            broker.spawn(index);
        }
        broker.wait_until_up();
        broker.create_topic("orders", ORDERS_PARTITIONS);
        broker.create_topic("orders.dlq", 1);
        broker
    }

    fn spawn(&mut self, index: usize) {
        let mut args = self.java_args("kafka.Kafka");
        args.push(self.properties(index).display().to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.nodes[index].process = Some(ServiceProcess::spawn("java", &args, &[]));
    }

    /// Waits until every node answers metadata requests on its internal
    /// listener.
    fn wait_until_up(&mut self) {
        let client = self.internal_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let brokers = client
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|metadata| metadata.brokers().len());
            if brokers.as_ref().is_ok_and(|&n| n == self.nodes.len()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Kafka did not come up within a minute ({brokers:?}); node 1 logged {:?}",
                self.nodes[0].process.as_mut().map(|p| p.lines().to_vec())
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The process id of the first node.
    ///
    /// # Panics
    /// If it is not running.
    pub fn pid(&self) -> u32 {
        self.node(1).process.as_ref().expect("running").pid()
    }

    /// The node ids, 1 to the cluster's size.
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|node| node.id).collect()
    }

    fn node(&self, id: i32) -> &Node {
        self.nodes
            .iter()
            .find(|node| node.id == id)
            .expect("a node of the cluster")
    }

    fn node_mut(&mut self, id: i32) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|node| node.id == id)
            .expect("a node of the cluster")
    }

    /// Kills every node with SIGKILL, as a crash would.
    pub fn crash(&mut self) {
        for id in self.node_ids() {
            self.kill(id);
        }
    }

    /// Kills node `id` with SIGKILL.
    pub fn kill(&mut self, id: i32) {
        if let Some(mut process) = self.node_mut(id).process.take() {
            process.crash();
        }
    }

    /// Stops node `id` with SIGTERM (a controlled shutdown: it hands its
    /// leaderships over first) and waits up to a minute for it to exit.
    ///
    /// # Panics
    /// If it does not exit in time.
    pub fn stop(&mut self, id: i32) {
        if let Some(mut process) = self.node_mut(id).process.take() {
            process.terminate(Duration::from_secs(60));
        }
    }

    /// Freezes node `id` (SIGSTOP), or thaws it (SIGCONT): a broker that
    /// stops answering without closing its connections.
    pub fn freeze(&self, id: i32, frozen: bool) {
        let signal = if frozen {
            nix::sys::signal::Signal::SIGSTOP
        } else {
            nix::sys::signal::Signal::SIGCONT
        };
        self.node(id)
            .process
            .as_ref()
            .expect("running")
            .signal(signal);
    }

    /// Starts every node that is not running again, on the same ports and
    /// data, and waits until the whole cluster answers.
    pub fn restart(&mut self) {
        for index in 0..self.nodes.len() {
            if self.nodes[index].process.is_none() {
                self.spawn(index);
            }
        }
        self.wait_until_up();
    }

    /// Sets the SCRAM password of each of `users` (creating them if new),
    /// the Kafka way, while the broker runs. [`Broker::client`] logs in with
    /// the new password from then on.
    ///
    /// # Panics
    /// If Kafka's config tool fails.
    pub fn set_users(&mut self, users: &[(&str, &str)]) {
        for (name, password) in users {
            let mut configs = self.tool("kafka.admin.ConfigCommand");
            configs
                .arg("--bootstrap-server")
                .arg(&self.internal)
                .args(["--alter", "--entity-type", "users", "--entity-name", name])
                .arg("--add-config")
                .arg(format!("{MECHANISM}=[password={password}]"));
            run(&mut configs, "kafka-configs");
            if let Some((login, old)) = &mut self.login {
                if login == name {
                    *old = (*password).to_owned();
                }
            }
        }
    }

    /// Creates `name` with `partitions` partitions, replicated on every
    /// node (at most three).
    ///
    /// # Panics
    /// If Kafka refuses.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.internal)
            .create()
            .expect("admin client created");
        let replicas = i32::try_from(self.nodes.len().min(3)).expect("few nodes");
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replicas));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = futures::executor::block_on(admin.create_topics([&topic], &options))
            .expect("create topics request");
        for result in results {
            if let Err((topic, error)) = result {
                panic!("cannot create topic {topic}: {error}");
            }
        }
    }

    /// A client of the client listener, as the services see it: logged in
    /// and over TLS when the broker requires it.
    pub fn client(&self) -> BaseConsumer {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        let sasl = self.login.is_some();
        let protocol = match (sasl, &self.certificates) {
            (false, None) => "plaintext",
            (true, None) => "sasl_plaintext",
            (false, Some(_)) => "ssl",
            (true, Some(_)) => "sasl_ssl",
        };
        config.set("security.protocol", protocol);
        if let Some((name, password)) = &self.login {
            config
                .set("sasl.mechanism", MECHANISM)
                .set("sasl.username", name)
                .set("sasl.password", password);
        }
        if let Some(certificates) = &self.certificates {
            config
                .set("ssl.ca.location", certificates.ca.display().to_string())
                .set(
                    "ssl.certificate.location",
                    certificates.client_certificate.display().to_string(),
                )
                .set(
                    "ssl.key.location",
                    certificates.client_key.display().to_string(),
                );
        }
        config.create().expect("client created")
    }

    fn internal_client(&self) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.internal)
            .create()
            .expect("client created")
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.crash();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
