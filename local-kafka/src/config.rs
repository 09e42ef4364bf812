//! What each JVM is told: a node's `server.properties`, ZooKeeper's
//! `zoo.cfg`, and the KRaft storage formatted with Kafka's own tool.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::cluster::Cluster;
use crate::java;
use crate::options::Mode;
use crate::{Error, storage};

impl Cluster {
    /// The directory of node `index`.
    pub(crate) fn node_dir(&self, index: usize) -> PathBuf {
        self.data.join(format!("node-{}", self.nodes[index].id))
    }

    /// The `server.properties` of node `index`.
    pub(crate) fn properties(&self, index: usize) -> PathBuf {
        self.node_dir(index).join("server.properties")
    }

    /// Writes node `index`'s configuration.
    pub(crate) fn write_properties(&self, index: usize) -> Result<(), Error> {
        let node = &self.nodes[index];
        let security = &self.options.security;
        let (replicas, min_isr) = (self.options.replicas(), self.options.min_insync());
        let mut listeners = format!("CLIENT://127.0.0.1:{}", node.client_port);
        let mut map = format!("CLIENT:{}", security.protocol());
        let mut inter = "CLIENT";
        if let Some(port) = node.internal_port {
            // Replication and administration stay plain and need no user:
            // the client listener's security is what is under test.
            listeners.push_str(&format!(",INTERNAL://127.0.0.1:{port}"));
            map.push_str(",INTERNAL:PLAINTEXT");
            inter = "INTERNAL";
        }
        let advertised = listeners.clone();
        let mut properties = String::new();
        match &self.zookeeper {
            Some(zookeeper) => {
                properties.push_str(&format!(
                    "broker.id={}\nzookeeper.connect=127.0.0.1:{}\n",
                    node.id, zookeeper.port
                ));
                // Stopped together, three brokers each try in vain to hand
                // their partitions to the others (measured: 14 s and a
                // hundred errors; one after the other, 16 s). Without it a
                // stopped broker still closes its ZooKeeper session, and the
                // controller moves its leaders at once.
                properties.push_str("controlled.shutdown.enable=false\n");
            }
            None => {
                let voters: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
                    .collect();
                listeners.push_str(&format!(",CONTROLLER://127.0.0.1:{}", node.controller_port));
                map.push_str(",CONTROLLER:PLAINTEXT");
                properties.push_str(&format!(
                    "process.roles=broker,controller\n\
                     node.id={id}\n\
                     controller.quorum.voters={voters}\n\
                     controller.listener.names=CONTROLLER\n\
                     share.coordinator.state.topic.replication.factor={replicas}\n\
                     share.coordinator.state.topic.min.isr={min_isr}\n",
                    id = node.id,
                    voters = voters.join(","),
                ));
            }
        }
        properties.push_str(&format!(
            "listeners={listeners}\n\
             advertised.listeners={advertised}\n\
             listener.security.protocol.map={map}\n\
             inter.broker.listener.name={inter}\n\
             log.dirs={logs}\n\
             num.partitions=1\n\
             default.replication.factor={replicas}\n\
             min.insync.replicas={min_isr}\n\
             offsets.topic.replication.factor={replicas}\n\
             transaction.state.log.replication.factor={replicas}\n\
             transaction.state.log.min.isr={min_isr}\n\
             unclean.leader.election.enable=false\n\
             auto.create.topics.enable=false\n\
             group.initial.rebalance.delay.ms=0\n",
            logs = self.node_dir(index).join("logs").display(),
        ));
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
            // SCRAM only: PLAIN would send passwords as they are.
            properties.push_str(
                "listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256\n\
                 listener.name.client.scram-sha-512.sasl.jaas.config=\
                 org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
                 listener.name.client.scram-sha-256.sasl.jaas.config=\
                 org.apache.kafka.common.security.scram.ScramLoginModule required;\n",
            );
        }
        std::fs::create_dir_all(self.node_dir(index)).context("creating the node directory")?;
        std::fs::write(self.properties(index), properties).context("writing server.properties")?;
        Ok(())
    }

    /// Writes ZooKeeper's configuration (standalone, its admin server off)
    /// and returns its path.
    pub(crate) fn zoo_cfg(&self, port: u16) -> Result<PathBuf, Error> {
        let dir = self.data.join("zookeeper");
        std::fs::create_dir_all(&dir).context("creating ZooKeeper's directory")?;
        let path = self.data.join("zoo.cfg");
        std::fs::write(
            &path,
            format!(
                "dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 tickTime=2000\ninitLimit=10\nsyncLimit=5\nmaxClientCnxns=0\n\
                 admin.enableServer=false\n",
                dir.display()
            ),
        )
        .context("writing zoo.cfg")?;
        Ok(path)
    }

    /// Formats the KRaft storage of the nodes not yet formatted (all at
    /// once), with the cluster id of those that are.
    pub(crate) fn format(&self) -> Result<(), Error> {
        debug_assert_eq!(self.options.mode, Mode::KRaft);
        let logs = |index| self.node_dir(index).join("logs");
        let cluster_id = (0..self.nodes.len())
            .find_map(|index| storage::formatted_cluster_id(&logs(index)))
            .unwrap_or_else(storage::new_cluster_id);
        let mut formatting = Vec::new();
        for index in 0..self.nodes.len() {
            if logs(index).join("meta.properties").is_file() {
                continue;
            }
            let log = self.node_dir(index).join("format.log");
            let file = std::fs::File::create(&log).context("creating format.log")?;
            let child = self
                .jvms
                .tool("kafka.tools.StorageTool")
                .arg("format")
                .arg("--config")
                .arg(self.properties(index))
                .args(["--cluster-id", cluster_id.as_str()])
                .stdout(file.try_clone().context("format.log")?)
                .stderr(file)
                .spawn()
                .context("starting kafka-storage")?;
            formatting.push((index, child, log));
        }
        for (index, mut child, log) in formatting {
            java::finish_tool(
                &mut child,
                &log,
                &format!("formatting the storage of node {}", self.nodes[index].id),
                &self.options.interrupt,
            )?;
        }
        Ok(())
    }
}
