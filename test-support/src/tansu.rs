//! tansu, a Kafka-protocol broker written in Rust, as a child process: the
//! broker of the end-to-end suite and the benchmark. `scripts/e2e.sh` and
//! `scripts/bench.sh` install it; `TANSU_BIN` overrides where it is found.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::ServiceProcess;

/// Partitions of the orders topic, as in docker-compose.yml.
pub const ORDERS_PARTITIONS: i32 = 6;

/// A tansu broker, killed when dropped.
pub struct Broker {
    process: ServiceProcess,
    dir: PathBuf,
    tansu: PathBuf,
    port: u16,
    storage: String,
    /// SCRAM-SHA-512 user and password the broker's own clients log in
    /// with, when it requires authentication.
    login: Option<(String, String)>,
    /// `host:port` for `KAFKA_BROKERS`.
    pub bootstrap: String,
}

impl Broker {
    /// Starts tansu on a free port, waits until it answers metadata requests,
    /// and creates `orders` (6 partitions) and `orders.dlq`.
    ///
    /// # Panics
    /// If tansu is missing or does not come up within 30 seconds.
    pub fn start() -> Self {
        Self::start_in(Path::new("."), "memory://tansu/")
    }

    /// Like [`Broker::start`] with tansu's working directory `dir` and
    /// `storage` as its storage engine, e.g. `sqlite://tansu.db` (a path
    /// relative to `dir`), which keeps every acknowledged record across a
    /// SIGKILL.
    ///
    /// # Panics
    /// As [`Broker::start`].
    pub fn start_in(dir: &Path, storage: &str) -> Self {
        let tansu = binary("TANSU_BIN", || {
            // Where scripts/local-broker.sh installs it.
            let cache = std::env::var_os("TANSU_CACHE")
                .map_or_else(|| cache_home().join("orders-pipeline/tansu"), PathBuf::from);
            cache.join("bin/tansu")
        });
        let port = free_port();
        let process = spawn_tansu(dir, &tansu, port, storage, &[]);
        let mut broker = Self {
            process,
            dir: dir.to_owned(),
            tansu,
            port,
            storage: storage.to_owned(),
            login: None,
            bootstrap: format!("127.0.0.1:{port}"),
        };
        broker.wait_until_up();
        broker.create_topic("orders", ORDERS_PARTITIONS);
        broker.create_topic("orders.dlq", 1);
        broker
    }

    /// A broker that requires SASL (`SASL_PLAINTEXT`, `SCRAM-SHA-512`) and
    /// knows `users` (name, password), with sqlite storage in `dir`, as
    /// `scripts/local-broker.sh` starts it with `SASL_USERS`: tansu creates
    /// users only while it does not require authentication, so it starts
    /// open, gets its topics and users, and restarts with `--authentication`.
    /// [`Broker::client`] logs in as the first user; the other helpers that
    /// take only the bootstrap address cannot be used on it.
    ///
    /// # Panics
    /// As [`Broker::start`], or if a user cannot be created.
    pub fn start_with_users(dir: &Path, users: &[(&str, &str)]) -> Self {
        let mut broker = Self::start_in(dir, "sqlite://tansu.db");
        broker.create_users(users);
        broker.login = users
            .first()
            .map(|(name, password)| ((*name).to_owned(), (*password).to_owned()));
        broker.restart();
        broker
    }

    /// Creates or updates `users` on a broker started with
    /// [`Broker::start_with_users`]: stops it, starts it without
    /// authentication, writes the users, and restarts it with authentication.
    ///
    /// # Panics
    /// As [`Broker::start_with_users`].
    pub fn set_users(&mut self, users: &[(&str, &str)]) {
        // SIGTERM can hang while clients stay connected; sqlite keeps
        // everything acknowledged across a SIGKILL.
        self.process.crash();
        // Measured here: after a run with authentication, this harness's
        // librdkafka client got only transport errors from the open tansu
        // (a Python librdkafka client did not; the cause is unknown), while
        // tansu's CLI works, so the CLI's success is the readiness signal.
        self.process = spawn_tansu(&self.dir, &self.tansu, self.port, &self.storage, &[]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.try_create_users(users) {
            assert!(Instant::now() < deadline, "cannot create SASL users");
            std::thread::sleep(Duration::from_millis(200));
        }
        self.process.crash();
        if let Some((login, password)) = &mut self.login {
            if let Some((_, new)) = users.iter().find(|(name, _)| name == login) {
                *password = (*new).to_owned();
            }
        }
        self.restart();
    }

    /// Writes `users` on a running broker that does not require
    /// authentication, then stops it.
    fn create_users(&mut self, users: &[(&str, &str)]) {
        assert!(self.try_create_users(users), "cannot create SASL users");
        // The users are in the database; clients may be connected, which
        // can hold up a SIGTERM.
        self.process.crash();
    }

    fn try_create_users(&self, users: &[(&str, &str)]) -> bool {
        users.iter().all(|(name, password)| {
            Command::new(&self.tansu)
                .args(["user", "create", name, password, "--mechanism", "scram512"])
                .args(["--broker", &format!("tcp://{}", self.bootstrap)])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Kills the broker with SIGKILL, as a crash would.
    pub fn crash(&mut self) {
        self.process.crash();
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        let authentication: &[&str] = if self.login.is_some() {
            &["--authentication"]
        } else {
            &[]
        };
        self.process = spawn_tansu(
            &self.dir,
            &self.tansu,
            self.port,
            &self.storage,
            authentication,
        );
        self.wait_until_up();
    }

    fn wait_until_up(&mut self) {
        let consumer = self.client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let result = consumer.fetch_metadata(None, Duration::from_secs(1));
            let Err(error) = result else { break };
            assert!(
                Instant::now() < deadline,
                "tansu did not answer within 30 s: {error}; it logged {:?}",
                self.process.lines()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Creates `name` with `partitions` partitions.
    ///
    /// # Panics
    /// If tansu refuses.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let status = Command::new(&self.tansu)
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
            ])
            .args(["--broker", &format!("tcp://{}", self.bootstrap)])
            .status()
            .expect("tansu topic create runs");
        assert!(status.success(), "cannot create topic {name}");
    }

    /// A plain client for checks that bypass the services, logged in when
    /// the broker requires it.
    pub fn client(&self) -> BaseConsumer {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        if let Some((name, password)) = &self.login {
            config
                .set("security.protocol", "sasl_plaintext")
                .set("sasl.mechanism", "SCRAM-SHA-512")
                .set("sasl.username", name)
                .set("sasl.password", password);
        }
        config.create().expect("client created")
    }

    /// The number of records in `topic`, from the partitions' high watermarks.
    ///
    /// Good for telling empty from not empty only: tansu 0.6 reports high
    /// watermarks below the true end when a partition's last produce request
    /// carried a batch of several records (measured: 38 for 40 records), so
    /// [`Broker::end_offsets`] reads the records instead.
    pub fn watermark_count(&self, topic: &str) -> i64 {
        crate::count(&self.bootstrap, topic)
    }

    /// The end offset of each partition of `topic` that holds records, found
    /// by reading all `count` records the test wrote.
    ///
    /// # Panics
    /// If fewer than `count` records can be read.
    pub fn end_offsets(&self, topic: &str, count: usize) -> HashMap<i32, i64> {
        let records = self.read(topic, count);
        assert_eq!(records.len(), count, "every record of {topic} can be read");
        let mut ends = HashMap::new();
        for record in records {
            let end = ends.entry(record.partition()).or_insert(0);
            *end = (*end).max(record.offset() + 1);
        }
        ends
    }

    /// The offsets `group` committed on `topic`, by partition.
    pub fn committed_offsets(&self, group: &str, topic: &str) -> HashMap<i32, i64> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
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
            .client()
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        i32::try_from(metadata.topics()[0].partitions().len()).expect("partition count")
    }

    /// Reads every record of `topic` (up to `count`).
    pub fn read(&self, topic: &str, count: usize) -> Vec<rdkafka::message::OwnedMessage> {
        crate::read(&self.bootstrap, topic, count, Duration::from_secs(30))
    }
}

fn spawn_tansu(
    dir: &Path,
    tansu: &Path,
    port: u16,
    storage: &str,
    extra: &[&str],
) -> ServiceProcess {
    let url = format!("tcp://127.0.0.1:{port}");
    let mut args = vec![
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &url,
        "--storage-engine",
        storage,
    ];
    args.extend_from_slice(extra);
    ServiceProcess::spawn_in(dir, tansu, &args, &[("RUST_LOG", "warn")])
}

/// The path in environment variable `var`, or `default()`; panics with a
/// hint if no file is there.
///
/// # Panics
/// If the file does not exist.
pub fn binary(var: &str, default: impl FnOnce() -> PathBuf) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(default, PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found (set {var}, or run scripts/e2e.sh, which builds and installs it)",
        path.display()
    );
    path
}

fn cache_home() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME").map_or_else(
        || {
            std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("/root"), PathBuf::from)
                .join(".cache")
        },
        PathBuf::from,
    )
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    listener.local_addr().expect("address").port()
}
