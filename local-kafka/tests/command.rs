//! The `local-kafka` command as people and scripts run it, on real Kafka
//! from the cached jars (fetched first if missing): every mode it offers
//! (one KRaft node, three, ZooKeeper, SASL users, kept data), the ready
//! line, and a clean stop that leaves no JVM behind.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};

/// The variables the command reads, cleared so the caller's shell cannot
/// change a test (KAFKA_CACHE stays: the jars are shared).
const VARIABLES: [&str; 9] = [
    "KAFKA_PORT",
    "BROKERS",
    "ZOOKEEPER",
    "KAFKA_DATA",
    "SASL_USERS",
    "KAFKA_HEAP",
    "KAFKA_START_TIMEOUT",
    "INSTALL_ONLY",
    "ZK_KAFKA_VERSION",
];

/// A running `local-kafka`, its standard error read line by line.
struct Run {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Run {
    /// Starts it on free ports with `env` and waits for its ready line.
    fn ready(env: &[(&str, &str)]) -> (Self, String) {
        let mut run = Self::start(env);
        let line = run.wait_line(" ready on ", Duration::from_secs(300));
        (run, line)
    }

    fn start(env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_local-kafka"));
        for name in VARIABLES {
            command.env_remove(name);
        }
        let mut child = command
            .envs([("KAFKA_PORT", "0"), ("KAFKA_LOG_LEVEL", "ERROR")])
            .env("KAFKA_HEAP", "256m")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("local-kafka starts");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line of standard error that contains `text`.
    fn wait_line(&mut self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("no line with {text:?}; it said: {:#?}", self.seen),
            }
        }
    }

    /// Sends SIGTERM and waits for the exit.
    fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        kill(pid, Signal::SIGTERM).expect("signal sent");
        let status = self.child.wait().expect("exit");
        self.seen.extend(self.lines.try_iter());
        (status, self.seen)
    }
}

/// `host:port,...` from a ready line.
fn bootstrap(ready: &str) -> &str {
    let start = ready.find(" ready on ").expect("ready line") + " ready on ".len();
    let end = start + ready[start..].find(' ').expect("more after the addresses");
    &ready[start..end]
}

/// The pid of JVM `name` (`kafka-1`, `zookeeper`) from a ready line.
fn pid(ready: &str, name: &str) -> Pid {
    let pids = &ready[ready.find("; pids ").expect("pids") + "; pids ".len()..];
    let pid = pids
        .split(' ')
        .find_map(|entry| entry.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {ready}"));
    Pid::from_raw(pid.parse().expect("a pid"))
}

/// Whether process `pid` still exists.
fn exists(pid: Pid) -> bool {
    kill(pid, None).is_ok()
}

fn consumer(config: &mut ClientConfig) -> BaseConsumer {
    config.create().expect("client created")
}

/// Partitions of `topic` and the replicas of its first partition.
fn layout(client: &BaseConsumer, topic: &str) -> (usize, usize) {
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions = metadata.topics()[0].partitions();
    (partitions.len(), partitions[0].replicas().len())
}

fn records(client: &BaseConsumer, topic: &str) -> i64 {
    (0..6)
        .map(|partition| {
            let (low, high) = client
                .fetch_watermarks(topic, partition, Duration::from_secs(10))
                .expect("watermarks");
            high - low
        })
        .sum()
}

#[test]
fn one_kraft_node_keeps_its_data_across_restarts_and_refuses_another_layout() {
    let data = std::env::temp_dir().join(format!("local-kafka-test-{}", std::process::id()));
    let data_env = data.display().to_string();
    let (run, ready) = Run::ready(&[("KAFKA_DATA", &data_env)]);
    assert!(
        ready.starts_with("Apache Kafka 4.1.0 ready on 127.0.0.1:"),
        "{ready}"
    );
    assert!(
        ready.contains("(1 broker, KRaft) with topics orders, orders.dlq in "),
        "{ready}"
    );
    let plain =
        |ready: &str| consumer(ClientConfig::new().set("bootstrap.servers", bootstrap(ready)));
    let client = plain(&ready);
    assert_eq!(layout(&client, "orders"), (6, 1));
    assert_eq!(layout(&client, "orders.dlq"), (1, 1));
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap(&ready))
        .create()
        .expect("producer");
    producer
        .send(BaseRecord::to("orders").key("k").payload("kept"))
        .map_err(|(error, _)| error)
        .expect("queued");
    producer.flush(Duration::from_secs(10)).expect("stored");
    let jvm = pid(&ready, "kafka-1");
    let (status, _) = run.terminate();
    assert_eq!(status.code(), Some(143), "SIGTERM's status");
    assert!(!exists(jvm), "the broker stopped with it");

    let (run, ready) = Run::ready(&[("KAFKA_DATA", &data_env)]);
    assert_eq!(records(&plain(&ready), "orders"), 1, "the record survived");
    assert_eq!(run.terminate().0.code(), Some(143));

    let other = Command::new(env!("CARGO_BIN_EXE_local-kafka"))
        .envs([
            ("KAFKA_DATA", data_env.as_str()),
            ("BROKERS", "3"),
            ("KAFKA_PORT", "0"),
        ])
        .output()
        .expect("runs");
    assert_eq!(other.status.code(), Some(2));
    let said = String::from_utf8_lossy(&other.stderr);
    assert!(said.contains("(KRaft 1, not KRaft 3)"), "{said}");
    std::fs::remove_dir_all(&data).expect("data removed");
}

#[test]
fn sasl_users_log_in_with_either_scram_mechanism_and_no_one_else_does() {
    let users = "alice:first-secret,bob:second-secret";
    let (run, ready) = Run::ready(&[("SASL_USERS", users)]);
    assert!(
        ready.contains("; SASL_PLAINTEXT with SCRAM-SHA-512/256 required, users: alice, bob)"),
        "{ready}"
    );
    let login = |mechanism: &str, user: &str, password: &str| {
        consumer(
            ClientConfig::new()
                .set("bootstrap.servers", bootstrap(&ready))
                .set("security.protocol", "SASL_PLAINTEXT")
                .set("sasl.mechanism", mechanism)
                .set("sasl.username", user)
                .set("sasl.password", password),
        )
        .fetch_metadata(Some("orders"), Duration::from_secs(5))
    };
    assert!(login("SCRAM-SHA-512", "alice", "first-secret").is_ok());
    assert!(login("SCRAM-SHA-256", "bob", "second-secret").is_ok());
    assert!(login("SCRAM-SHA-512", "alice", "second-secret").is_err());
    let (status, said) = run.terminate();
    assert_eq!(status.code(), Some(143));
    assert!(
        !said.iter().any(|line| line.contains("secret")),
        "{said:#?}"
    );
}

#[test]
fn three_brokers_replicate_report_a_killed_one_and_keep_running() {
    let (mut run, ready) = Run::ready(&[("BROKERS", "3")]);
    assert!(
        ready.contains("(3 brokers, replication factor 3, min.insync.replicas=2, KRaft)"),
        "{ready}"
    );
    assert_eq!(bootstrap(&ready).split(',').count(), 3);
    let client = consumer(ClientConfig::new().set("bootstrap.servers", bootstrap(&ready)));
    assert_eq!(layout(&client, "orders"), (6, 3));
    let second = pid(&ready, "kafka-2");
    kill(second, Signal::SIGKILL).expect("killed");
    let line = run.wait_line("exited", Duration::from_secs(30));
    assert_eq!(line, format!("broker 2 (kafka-2, pid {second}) exited"));
    assert!(
        run.child.try_wait().expect("status").is_none(),
        "still running"
    );
    let others = [pid(&ready, "kafka-1"), pid(&ready, "kafka-3")];
    assert_eq!(run.terminate().0.code(), Some(143));
    assert!(!others.into_iter().any(exists), "every broker stopped");
}

#[test]
fn zookeeper_mode_runs_kafka_3_9_next_to_zookeeper_and_stops_both() {
    let (run, ready) = Run::ready(&[("ZOOKEEPER", "1")]);
    assert!(ready.starts_with("Apache Kafka 3.9.1 ready on "), "{ready}");
    assert!(
        ready.contains("(1 broker, ZooKeeper on 127.0.0.1:"),
        "{ready}"
    );
    let client = consumer(ClientConfig::new().set("bootstrap.servers", bootstrap(&ready)));
    assert_eq!(layout(&client, "orders"), (6, 1));
    let jvms = [pid(&ready, "kafka-1"), pid(&ready, "zookeeper")];
    assert_eq!(run.terminate().0.code(), Some(143));
    assert!(!jvms.into_iter().any(exists), "both JVMs stopped");
}

#[test]
fn install_only_prints_the_libs_directory_alone_and_bad_settings_are_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_local-kafka"))
        .env("INSTALL_ONLY", "1")
        .env_remove("ZOOKEEPER")
        .output()
        .expect("runs");
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).expect("text");
    let libs = stdout.strip_suffix('\n').expect("one line");
    assert!(libs.ends_with("/4.1.0/libs"), "{libs}");
    assert!(std::path::Path::new(libs).join("../libs").is_dir());

    for (name, value) in [("BROKERS", "2"), ("SASL_USERS", "alice")] {
        let refused = Command::new(env!("CARGO_BIN_EXE_local-kafka"))
            .env(name, value)
            .env("KAFKA_PORT", "0")
            .output()
            .expect("runs");
        assert_eq!(refused.status.code(), Some(2), "{name}={value}");
    }
}
