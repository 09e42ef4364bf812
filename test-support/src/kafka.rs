//! Apache Kafka itself, as child processes: one KRaft node (broker and
//! controller in one JVM) or a cluster of several, the broker of the
//! end-to-end suite and the benchmark. `scripts/local-kafka.sh` fetches
//! Kafka from Maven Central into a cache; `KAFKA_HOME` (the folder with
//! `libs/` and `log4j2.xml`) overrides where it is found.
//!
//! Each node has three listeners on loopback: `CLIENT` for the services
//! (plain, or SASL SCRAM-SHA-512 when the broker has users), `INTERNAL`
//! (plain) between brokers and for this harness's own administration, and
//! `CONTROLLER` for the KRaft quorum.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::ServiceProcess;

/// Partitions of the orders topic, as in docker-compose.yml.
pub const ORDERS_PARTITIONS: i32 = 6;

/// The Kafka version, as in docker-compose.kraft.yml and
/// scripts/local-kafka.sh.
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
}

impl Broker {
    /// Starts one node on free ports, waits until it answers, and creates
    /// the topics.
    ///
    /// # Panics
    /// If Kafka is missing or does not come up within a minute.
    pub fn start() -> Self {
        Self::launch(1, &[])
    }

    /// Starts a cluster of `nodes` KRaft nodes (each broker and controller,
    /// a quorum of `nodes`) whose topics have `min(nodes, 3)` replicas and
    /// `min.insync.replicas=2` (1 on a single node); unclean leader election
    /// is off.
    ///
    /// # Panics
    /// As [`Broker::start`].
    pub fn cluster(nodes: usize) -> Self {
        Self::launch(nodes, &[])
    }

    /// A one-node broker that requires SASL (`SASL_PLAINTEXT`,
    /// `SCRAM-SHA-512`) on its client listener and knows `users` (name,
    /// password), created the Kafka way when the storage is formatted.
    /// [`Broker::client`] logs in as the first user.
    ///
    /// # Panics
    /// As [`Broker::start`].
    pub fn start_with_users(users: &[(&str, &str)]) -> Self {
        Self::launch(1, users)
    }

    fn launch(nodes: usize, users: &[(&str, &str)]) -> Self {
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
            data,
            nodes,
            login: users
                .first()
                .map(|(name, password)| ((*name).to_owned(), (*password).to_owned())),
        };
        let cluster_id = cluster_id();
        for index in 0..broker.nodes.len() {
            broker.write_properties(index, !users.is_empty());
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

    fn properties(&self, index: usize) -> PathBuf {
        self.data
            .join(format!("node-{}.properties", self.nodes[index].id))
    }

    fn write_properties(&self, index: usize, sasl: bool) {
        let node = &self.nodes[index];
        let voters: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
            .collect();
        let replicas = self.nodes.len();
        let client = if sasl { "SASL_PLAINTEXT" } else { "PLAINTEXT" };
        let mut properties = format!(
            "process.roles=broker,controller\n\
             node.id={id}\n\
             controller.quorum.voters={voters}\n\
             listeners=CLIENT://127.0.0.1:{client_port},INTERNAL://127.0.0.1:{internal_port},CONTROLLER://127.0.0.1:{controller_port}\n\
             advertised.listeners=CLIENT://127.0.0.1:{client_port},INTERNAL://127.0.0.1:{internal_port}\n\
             listener.security.protocol.map=CLIENT:{client},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT\n\
             inter.broker.listener.name=INTERNAL\n\
             controller.listener.names=CONTROLLER\n\
             log.dirs={data}/node-{id}\n\
             num.partitions=1\n\
             auto.create.topics.enable=false\n\
             offsets.topic.replication.factor={replicas}\n\
             transaction.state.log.replication.factor={replicas}\n\
             transaction.state.log.min.isr={min_isr}\n\
             min.insync.replicas={min_isr}\n\
             unclean.leader.election.enable=false\n\
             group.initial.rebalance.delay.ms=0\n",
            id = node.id,
            voters = voters.join(","),
            client_port = node.client_port,
            internal_port = node.internal_port,
            controller_port = node.controller_port,
            data = self.data.display(),
            min_isr = replicas.min(2),
        );
        if sasl {
            properties.push_str(&format!(
                "sasl.enabled.mechanisms={MECHANISM}\n\
                 listener.name.client.scram-sha-512.sasl.jaas.config=\
                 org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
            ));
        }
        std::fs::write(self.properties(index), properties).expect("properties written");
    }

    /// Formats the node's storage with Kafka's own tool, adding `users`.
    fn format(&self, index: usize, cluster_id: &str, users: &[(&str, &str)]) {
        let properties = self.properties(index);
        let mut args = vec![
            "format".to_owned(),
            "--cluster-id".to_owned(),
            cluster_id.to_owned(),
            "--config".to_owned(),
            properties.display().to_string(),
        ];
        for (name, password) in users {
            args.push("--add-scram".to_owned());
            args.push(format!("{MECHANISM}=[name={name},password={password}]"));
        }
        let output = self
            .tool("kafka.tools.StorageTool")
            .args(&args)
            .output()
            .expect("java runs the storage tool");
        assert!(
            output.status.success(),
            "kafka-storage format failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// `java`'s arguments to run `main` with Kafka on the class path and
    /// its logging configured; a small heap, since the machine is shared.
    fn java_args(&self, main: &str) -> Vec<String> {
        vec![
            "-Xms128m".to_owned(),
            "-Xmx512m".to_owned(),
            // Errors only, on standard error: the tests read the services' logs.
            "-Dlocal.kafka.level=ERROR".to_owned(),
            format!(
                "-Dlog4j2.configurationFile={}",
                self.home.join("log4j2.xml").display()
            ),
            "-cp".to_owned(),
            self.home.join("libs/*").display().to_string(),
            main.to_owned(),
        ]
    }

    /// A Kafka command-line tool (`main` is its class), ready for arguments.
    fn tool(&self, main: &str) -> Command {
        let mut java = Command::new("java");
        java.args(self.java_args(main));
        java
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

    /// Waits until every partition of `topic` has all its replicas in sync.
    ///
    /// # Panics
    /// If that takes longer than two minutes.
    pub fn wait_in_sync(&self, topic: &str) {
        let client = self.internal_client();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let in_sync = client
                .fetch_metadata(Some(topic), Duration::from_secs(5))
                .is_ok_and(|metadata| {
                    metadata.topics()[0].partitions().iter().all(|p| {
                        p.error().is_none()
                            && p.leader() >= 0
                            && p.isr().len() == p.replicas().len()
                    })
                });
            if in_sync {
                return;
            }
            assert!(Instant::now() < deadline, "{topic} never got back in sync");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The leader of the partition of `topic` that holds the most records.
    pub fn leader_of_busiest_partition(&self, topic: &str) -> i32 {
        let client = self.internal_client();
        let metadata = client
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        metadata.topics()[0]
            .partitions()
            .iter()
            .max_by_key(|p| {
                client
                    .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                    .map_or(0, |(_, high)| high)
            })
            .map(|p| p.leader())
            .expect("the topic has partitions")
    }

    /// The node that coordinates consumer group `group`, from Kafka's
    /// consumer-group tool.
    ///
    /// # Panics
    /// If the tool fails or names no coordinator.
    pub fn coordinator(&self, group: &str) -> i32 {
        let output = self
            .tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand")
            .arg("--bootstrap-server")
            .arg(&self.internal)
            .args(["--describe", "--state", "--group", group])
            .output()
            .expect("java runs the consumer-group tool");
        let text = String::from_utf8_lossy(&output.stdout);
        // A row names the coordinator as `host:port (id)`.
        text.lines()
            .find_map(|line| {
                let open = line.find(" (")?;
                let close = line[open..].find(')')? + open;
                line[open + 2..close].parse().ok()
            })
            .unwrap_or_else(|| panic!("no coordinator in: {text}"))
    }

    /// Sets the SCRAM password of each of `users` (creating them if new),
    /// the Kafka way, while the broker runs. [`Broker::client`] logs in with
    /// the new password from then on.
    ///
    /// # Panics
    /// If Kafka's config tool fails.
    pub fn set_users(&mut self, users: &[(&str, &str)]) {
        for (name, password) in users {
            let output = self
                .tool("kafka.admin.ConfigCommand")
                .arg("--bootstrap-server")
                .arg(&self.internal)
                .args(["--alter", "--entity-type", "users", "--entity-name", name])
                .arg("--add-config")
                .arg(format!("{MECHANISM}=[password={password}]"))
                .output()
                .expect("java runs the config tool");
            assert!(
                output.status.success(),
                "kafka-configs failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
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

    /// A plain client for checks that bypass the services, logged in when
    /// the broker requires it.
    pub fn client(&self) -> BaseConsumer {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        if let Some((name, password)) = &self.login {
            config
                .set("security.protocol", "sasl_plaintext")
                .set("sasl.mechanism", MECHANISM)
                .set("sasl.username", name)
                .set("sasl.password", password);
        }
        config.create().expect("client created")
    }

    fn internal_client(&self) -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.internal)
            .create()
            .expect("client created")
    }

    /// The number of records in `topic`, from the partitions' watermarks.
    pub fn watermark_count(&self, topic: &str) -> i64 {
        crate::count(&self.internal, topic)
    }

    /// The end offset (high watermark) of each partition of `topic` that
    /// holds records.
    pub fn end_offsets(&self, topic: &str) -> HashMap<i32, i64> {
        let client = self.internal_client();
        (0..self.partitions(topic))
            .filter_map(|partition| {
                let (_, high) = client
                    .fetch_watermarks(topic, partition, Duration::from_secs(10))
                    .expect("watermarks");
                (high > 0).then_some((partition, high))
            })
            .collect()
    }

    /// The offsets `group` committed on `topic`, by partition.
    pub fn committed_offsets(&self, group: &str, topic: &str) -> HashMap<i32, i64> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.internal)
            .set("group.id", group)
            .create()
            .expect("client created");
        let mut partitions = TopicPartitionList::new();
        for p in 0..self.partitions(topic) {
            partitions.add_partition(topic, p);
        }
        let committed = client
            .committed_offsets(partitions, Duration::from_secs(10))
            .expect("committed offsets");
        committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(offset) => Some((e.partition(), offset)),
                _ => None,
            })
            .collect()
    }

    fn partitions(&self, topic: &str) -> i32 {
        let metadata = self
            .internal_client()
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        i32::try_from(metadata.topics()[0].partitions().len()).expect("partition count")
    }

    /// Reads every record of `topic` (up to `count`).
    pub fn read(&self, topic: &str, count: usize) -> Vec<rdkafka::message::OwnedMessage> {
        crate::read(&self.internal, topic, count, Duration::from_secs(30))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.crash();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Where Kafka is: `KAFKA_HOME`, or where scripts/local-kafka.sh caches it.
fn kafka_home() -> PathBuf {
    let home = std::env::var_os("KAFKA_HOME").map_or_else(
        || {
            let cache = std::env::var_os("KAFKA_CACHE").map_or_else(
                || crate::cache_home().join("orders-pipeline/kafka"),
                PathBuf::from,
            );
            cache.join(KAFKA_VERSION)
        },
        PathBuf::from,
    );
    assert!(
        home.join("libs").is_dir(),
        "Apache Kafka not found in {} (set KAFKA_HOME, or run INSTALL_ONLY=1 scripts/local-kafka.sh)",
        home.display()
    );
    home
}

/// A new, empty directory for one cluster's data.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "orders-kafka-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("data directory created");
    dir
}

/// A random cluster id, as `kafka-storage random-uuid` makes them: 16
/// bytes (a UUIDv7: time and randomness) in URL-safe base64 without
/// padding (22 characters).
fn cluster_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = String::new();
    for chunk in uuid::Uuid::now_v7().as_bytes().chunks(3) {
        let bits = chunk
            .iter()
            .fold(0_u32, |bits, &b| bits << 8 | u32::from(b))
            << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            id.push(char::from(
                ALPHABET[((bits >> (18 - 6 * i)) & 0x3f) as usize],
            ));
        }
    }
    id
}

/// Apache Kafka 3.9 in ZooKeeper mode, one broker and ZooKeeper, as
/// `docker-compose.yml` runs them: `scripts/local-broker.sh` with
/// `ZOOKEEPER=1`, stopped (SIGTERM, which stops both JVMs) when dropped.
pub struct ZooKeeperKafka {
    script: std::process::Child,
    /// `host:port` for `KAFKA_BROKERS`.
    pub bootstrap: String,
}

impl ZooKeeperKafka {
    /// Starts it on a free port and waits until the script says it is ready,
    /// topics created.
    ///
    /// # Panics
    /// If it is not ready within two minutes (the first run fetches Kafka
    /// 3.9 too).
    pub fn start() -> Self {
        let port = crate::free_port();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/local-broker.sh");
        let mut child = Command::new(script)
            .env("ZOOKEEPER", "1")
            .env("KAFKA_PORT", port.to_string())
            .env("KAFKA_LOG_LEVEL", "ERROR")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("scripts/local-broker.sh starts");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = std::sync::mpsc::channel();
        // Drains the script's output to its end, so that it never blocks.
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.contains(" ready on ") => break,
                Ok(line) => seen.push(line),
                Err(_) => panic!("ZooKeeper-mode Kafka not ready in time: {seen:#?}"),
            }
        }
        Self {
            script: child,
            bootstrap: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for ZooKeeperKafka {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.script.id()).expect("pid"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.script.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_ids_are_22_url_safe_characters() {
        let id = super::cluster_id();
        assert_eq!(id.len(), 22);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(id, super::cluster_id());
    }
}
