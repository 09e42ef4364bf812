//! The command line, each option also an environment variable: the names
//! `scripts/local-broker.sh` has always read, so that its callers keep
//! working.

use std::path::PathBuf;

use clap::builder::{BoolishValueParser, PossibleValuesParser, TypedValueParser as _};
use clap::{CommandFactory as _, FromArgMatches as _, Parser};

/// Runs Apache Kafka itself (no Docker) in the foreground, its client
/// listener on 127.0.0.1:KAFKA_PORT, with the topics `orders` (6
/// partitions) and `orders.dlq` (1) created. One line on standard error
/// says when it is ready, with the pid of each JVM:
///
///   Apache Kafka 4.1.0 ready on 127.0.0.1:9092 (1 broker, KRaft) with topics orders, orders.dlq in 5s; pids kafka-1=4242
///
/// Ctrl-c, SIGTERM or SIGHUP stops every JVM it started and waits for them
/// (killed after 60 s, or at a second ctrl-c). A broker that exits is
/// reported; it ends when no broker is left (a three-node cluster keeps
/// running with one killed), or when ZooKeeper exits.
///
/// The first run fetches Kafka's jars from Maven Central with `mvn` into
/// KAFKA_CACHE; later runs reuse them. Needs Java 17+ (`java` on PATH, or
/// JAVA_HOME) and, for the fetch, Maven.
#[derive(Debug, Parser)]
#[command(name = "local-kafka", version, verbatim_doc_comment)]
pub struct Args {
    /// The client port (PLAINTEXT, or SASL_PLAINTEXT with SASL_USERS). The
    /// other ports derive from it, all on 127.0.0.1, for broker N:
    /// KAFKA_PORT+N-1 its client listener, KAFKA_PORT+10+N-1 its KRaft
    /// controller, KAFKA_PORT+20+N-1 replication and the admin commands
    /// without authentication (only with SASL_USERS), KAFKA_PORT+100
    /// ZooKeeper (ZOOKEEPER=1). 0: free ports, named in the ready line.
    #[arg(long, env = "KAFKA_PORT", default_value_t = 9092)]
    pub port: u16,

    /// 1, or 3: a three-node cluster, every node broker and controller (a
    /// quorum of 3), clients on KAFKA_PORT..KAFKA_PORT+2; topics (internal
    /// ones too) get replication factor 3 and min.insync.replicas=2, and
    /// unclean leader election is off.
    #[arg(
        long,
        env = "BROKERS",
        default_value = "1",
        value_parser = PossibleValuesParser::new(["1", "3"]).map(|n| n.parse::<usize>().unwrap_or(1))
    )]
    pub brokers: usize,

    /// ZooKeeper mode instead of KRaft: Apache Kafka 3.9 (ZooKeeper mode
    /// was removed in 4.0) and the ZooKeeper it depends on, standalone
    /// (what QuorumPeerMain runs without a quorum) on KAFKA_PORT+100, its
    /// admin server off. Works with BROKERS=3 (one ZooKeeper).
    #[arg(long, env = "ZOOKEEPER", value_parser = BoolishValueParser::new(), default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub zookeeper: bool,

    /// Keep the data in this directory across restarts (created if
    /// missing; formatted only the first time). It remembers its layout
    /// (KRaft or ZooKeeper, 1 or 3 brokers): another layout on it is an
    /// error. Unset: a temporary directory, removed at exit.
    #[arg(long, env = "KAFKA_DATA")]
    pub data: Option<PathBuf>,

    /// name:password[,name:password...]: require SASL on the client
    /// listeners (SASL_PLAINTEXT, SCRAM-SHA-512 or SCRAM-SHA-256; PLAIN is
    /// not enabled) with these users, created or updated (an existing
    /// user's password is overwritten) at every start through Kafka's admin
    /// API; users of earlier runs kept in KAFKA_DATA stay. Names cannot
    /// contain ':' or ',', passwords ','.
    #[arg(long, env = "SASL_USERS", hide_env_values = true)]
    pub sasl_users: Option<String>,

    /// -Xmx of each broker JVM (ZooKeeper gets 128m, the short-lived tool
    /// JVMs 256m).
    #[arg(long, env = "KAFKA_HEAP", default_value = "512m")]
    pub heap: String,

    /// Log level of the JVMs (all on standard error, each line prefixed
    /// with kafka-N, zookeeper or tool).
    #[arg(long, env = "KAFKA_LOG_LEVEL", default_value = "WARN")]
    pub log_level: String,

    /// Seconds to wait for the cluster and its topics.
    #[arg(long, env = "KAFKA_START_TIMEOUT", default_value_t = 120)]
    pub start_timeout: u64,

    /// Where Kafka is fetched to [default: ~/.cache/orders-pipeline/kafka,
    /// under XDG_CACHE_HOME if set].
    #[arg(long, env = "KAFKA_CACHE")]
    pub cache: Option<PathBuf>,

    /// Fetch (once) and exit, printing the libs directory (the 3.9 one with
    /// ZOOKEEPER=1) on standard output; its jars run any Kafka tool:
    /// java -cp "$libs/*" org.apache.kafka.tools.TopicCommand ...
    #[arg(long, env = "INSTALL_ONLY", value_parser = BoolishValueParser::new(), default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub install_only: bool,

    /// The Kafka 3.9.x of ZOOKEEPER=1 (.ci/images/build.sh fetches 3.9.0,
    /// the Kafka confluentinc/cp-kafka:7.9.0 ships).
    #[arg(long, env = "ZK_KAFKA_VERSION", default_value = local_kafka::ZOOKEEPER_KAFKA_VERSION)]
    pub zk_kafka_version: String,
}

impl Args {
    /// Parses the command line and the environment, an empty variable
    /// counting as unset (as `${VAR:-default}` does in the scripts that set
    /// them, e.g. `KAFKA_DATA=$maybe_empty`).
    pub fn from_env() -> Self {
        let mut command = Self::command();
        let empty: Vec<clap::Id> = command
            .get_arguments()
            .filter(|arg| {
                arg.get_env()
                    .and_then(std::env::var_os)
                    .is_some_and(|value| value.is_empty())
            })
            .map(|arg| arg.get_id().clone())
            .collect();
        for id in empty {
            command = command.mut_arg(id, |arg| arg.env(None::<&'static str>));
        }
        let matches = command.get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }
}
