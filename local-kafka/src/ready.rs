//! The line that tells people the cluster is ready: its addresses,
//! layout, security, topics, start-up time and each JVM's pid. Scripts wait
//! for its ` ready on ` and read the addresses and pids from it.

use crate::TOPICS;
use crate::cluster::Cluster;

impl Cluster {
    /// One line saying what runs where, for people: its addresses, layout,
    /// security, topics, how long it took, and each JVM's pid.
    pub fn ready_line(&self) -> String {
        let options = &self.options;
        let mut what = if options.brokers == 1 {
            "1 broker".to_owned()
        } else {
            format!(
                "{} brokers, replication factor {}, min.insync.replicas={}",
                options.brokers,
                options.replicas(),
                options.min_insync()
            )
        };
        match &self.zookeeper {
            Some(zookeeper) => {
                what.push_str(&format!(", ZooKeeper on 127.0.0.1:{}", zookeeper.port))
            }
            None => what.push_str(", KRaft"),
        }
        let security = &options.security;
        if security.secured() {
            what.push_str(&format!("; {} ", security.protocol()));
            if security.users.is_empty() {
                what.push_str("required");
            } else {
                let names: Vec<&str> = security.users.iter().map(|u| u.name.as_str()).collect();
                what.push_str(&format!(
                    "with SCRAM-SHA-512/256 required, users: {}",
                    names.join(", ")
                ));
            }
        }
        let mut pids: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|node| Some(format!("{}={}", node.name(), node.process.as_ref()?.id())))
            .collect();
        if let Some(zookeeper) = self.zookeeper.as_ref().and_then(|z| z.process.as_ref()) {
            pids.push(format!("zookeeper={}", zookeeper.id()));
        }
        let topics: Vec<&str> = TOPICS.iter().map(|(name, _)| *name).collect();
        format!(
            "Apache Kafka {} ready on {} ({what}) with topics {} in {}s; pids {}",
            self.version(),
            self.bootstrap,
            topics.join(", "),
            self.started_in.as_secs(),
            pids.join(" ")
        )
    }
}
