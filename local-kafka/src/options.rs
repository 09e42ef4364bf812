//! What a cluster is to be: its mode, size, ports, data directory, security
//! and JVM settings.

use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, Home, Interrupt};

/// How the brokers agree on the cluster's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every node broker and controller: the only mode of Kafka 4.
    KRaft,
    /// Kafka 3.9 and a standalone ZooKeeper, as `docker-compose.yml` runs.
    ZooKeeper,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::KRaft => "KRaft",
            Self::ZooKeeper => "ZooKeeper",
        })
    }
}

/// Where the listeners are, all on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// Derived from a client port `P`, for node `N` = 1, 2, …: its client
    /// listener on `P+N-1`, its KRaft controller on `P+10+N-1`, its internal
    /// listener (only when the client listener is secured) on `P+20+N-1`,
    /// and ZooKeeper on `P+100`. Fixed, so that people and their scripts
    /// know them; checked free before anything starts.
    From(u16),
    /// Any free ports: for tests, which run many clusters side by side.
    Free,
}

/// A SASL SCRAM user.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The user name.
    pub name: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for User {
    // The password never reaches a log or an error message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("name", &self.name).finish()
    }
}

/// Parses `name:password[,name:password...]`: names cannot hold `:` or
/// `,`, passwords `,`. An error names the entry, never its content.
///
/// # Errors
/// If an entry lacks its name or its password.
pub fn parse_users(list: &str) -> Result<Vec<User>, Error> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    list.split(',')
        .enumerate()
        .map(|(index, entry)| match entry.split_once(':') {
            Some((name, password)) if !name.is_empty() && !password.is_empty() => Ok(User {
                name: name.to_owned(),
                password: password.to_owned(),
            }),
            _ => Err(Error::Refused(format!(
                "SASL_USERS entry {} is not name:password",
                index + 1
            ))),
        })
        .collect()
}

/// How the client listener is secured.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// SCRAM users (SCRAM-SHA-512 and SCRAM-SHA-256), created or updated
    /// through Kafka's admin API at every start; none: no SASL.
    pub users: Vec<User>,
    /// TLS, with certificates made for the cluster ([`Cluster::certificates`](crate::Cluster)).
    pub tls: bool,
    /// With `tls`: a client certificate signed by the cluster's CA is
    /// required (mutual TLS).
    pub client_auth: bool,
}

impl Security {
    /// The client listener's `security.protocol`.
    pub fn protocol(&self) -> &'static str {
        match (self.users.is_empty(), self.tls) {
            (true, false) => "PLAINTEXT",
            (false, false) => "SASL_PLAINTEXT",
            (true, true) => "SSL",
            (false, true) => "SASL_SSL",
        }
    }

    /// Whether the client listener needs more than a connection, so that
    /// replication and administration need a plain listener of their own.
    pub fn secured(&self) -> bool {
        !self.users.is_empty() || self.tls
    }
}

/// Everything [`Cluster::start`](crate::Cluster::start) needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Kafka's jars, of a version that runs `mode`.
    pub home: Home,
    /// KRaft or ZooKeeper.
    pub mode: Mode,
    /// Brokers (each also a controller in KRaft mode). Topics get
    /// `min(brokers, 3)` replicas and `min.insync.replicas` 2 (1 on one
    /// broker); unclean leader election is off.
    pub brokers: usize,
    /// Where the listeners are.
    pub ports: Ports,
    /// A directory that keeps the data across restarts (created if missing,
    /// formatted only the first time, its layout checked); `None`: a
    /// temporary one, removed with the cluster.
    pub data: Option<PathBuf>,
    /// How the client listener is secured.
    pub security: Security,
    /// `-Xmx` of each broker JVM.
    pub heap: String,
    /// Level of the JVMs' logs, on standard error, each line prefixed with
    /// the JVM's name (`kafka-1`, `zookeeper`, `tool`).
    pub log_level: String,
    /// How long the cluster and its topics may take to come up.
    pub start_timeout: Duration,
    /// Puts the JVMs in a process group of their own, so that a ctrl-c at
    /// the terminal reaches only the caller, which stops them in order
    /// (brokers, then ZooKeeper). Tests leave it off, so that the ctrl-c
    /// that stops `cargo test` stops their JVMs too; a test killed with
    /// SIGKILL still leaves them running, as its `Drop` never runs.
    pub own_process_group: bool,
    /// Starts each broker in a cgroup of its own, so that
    /// [`Cluster::partition`](crate::Cluster::partition) can cut it off the
    /// network. Needs root, cgroup v2 and iptables.
    pub isolate: bool,
    /// Seen by every wait of the start-up and by the shutdown.
    pub interrupt: Interrupt,
}

impl Options {
    /// One broker of `home`'s version in `mode` on free ports, a temporary
    /// data directory, no security, a 512 MiB heap, warnings logged, two
    /// minutes to start.
    pub fn new(home: Home, mode: Mode) -> Self {
        Self {
            home,
            mode,
            brokers: 1,
            ports: Ports::Free,
            data: None,
            security: Security::default(),
            heap: "512m".to_owned(),
            log_level: "WARN".to_owned(),
            start_timeout: Duration::from_secs(120),
            own_process_group: false,
            isolate: false,
            interrupt: Interrupt::default(),
        }
    }

    /// Replicas of each topic.
    pub(crate) fn replicas(&self) -> usize {
        self.brokers.min(3)
    }

    /// `min.insync.replicas`: 2 where there are several replicas, so that
    /// one broker may be down without refusing `acks=all` writes.
    pub(crate) fn min_insync(&self) -> usize {
        self.replicas().min(2)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_users;

    #[test]
    fn users_are_name_password_pairs_and_a_bad_entry_is_named_without_its_content() {
        let users = parse_users("alice:se:cret,bob:pw").expect("valid");
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].name, "alice");
        assert_eq!(users[0].password, "se:cret");
        assert!(parse_users("").expect("none").is_empty());
        let error = parse_users("alice:pw,bob-secret").unwrap_err().to_string();
        assert_eq!(error, "SASL_USERS entry 2 is not name:password");
        assert!(parse_users(":pw").is_err());
        assert!(parse_users("alice:").is_err());
        assert!(!format!("{users:?}").contains("cret"));
    }
}
