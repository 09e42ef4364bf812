//! Making a node: its `server.properties`, its storage formatted with
//! Kafka's own tool (SCRAM users included), and the `java` command lines.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Broker, KAFKA_VERSION, MECHANISM, Security, run};

impl Broker {
    pub(super) fn properties(&self, index: usize) -> PathBuf {
        self.data
            .join(format!("node-{}.properties", self.nodes[index].id))
    }

    pub(super) fn write_properties(&self, index: usize, security: &Security) {
        let node = &self.nodes[index];
        let voters: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
            .collect();
        let replicas = self.nodes.len();
        let client = security.protocol();
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
        if let Some(certificates) = &self.certificates {
            let client_auth = if security.client_auth {
                "required"
            } else {
                "none"
            };
            properties.push_str(&format!(
                "ssl.keystore.type=PEM\n\
                 ssl.keystore.location={keystore}\n\
                 ssl.truststore.type=PEM\n\
                 ssl.truststore.location={ca}\n\
                 ssl.client.auth={client_auth}\n",
                keystore = certificates.keystore.display(),
                ca = certificates.ca.display(),
            ));
        }
        if !security.users.is_empty() {
            properties.push_str(&format!(
                "sasl.enabled.mechanisms={MECHANISM}\n\
                 listener.name.client.scram-sha-512.sasl.jaas.config=\
                 org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
            ));
        }
        std::fs::write(self.properties(index), properties).expect("properties written");
    }

    /// Formats the node's storage with Kafka's own tool, adding `users`.
    pub(super) fn format(&self, index: usize, cluster_id: &str, users: &[(&str, &str)]) {
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
        run(
            self.tool("kafka.tools.StorageTool").args(&args),
            "kafka-storage format",
        );
    }

    /// `java`'s arguments to run `main` with Kafka on the class path and
    /// its logging configured; a small heap, since the machine is shared.
    pub(super) fn java_args(&self, main: &str) -> Vec<String> {
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
    pub(super) fn tool(&self, main: &str) -> Command {
        let mut java = Command::new("java");
        java.args(self.java_args(main));
        java
    }
}

/// Where Kafka is: `KAFKA_HOME`, or where scripts/local-broker.sh caches it.
pub(super) fn kafka_home() -> PathBuf {
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
        "Apache Kafka not found in {} (set KAFKA_HOME, or run INSTALL_ONLY=1 scripts/local-broker.sh)",
        home.display()
    );
    home
}

/// A new, empty directory for one cluster's data.
pub(super) fn fresh_dir() -> PathBuf {
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
pub(super) fn cluster_id() -> String {
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
