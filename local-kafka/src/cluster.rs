//! A cluster: its nodes and their ports, the start-up in order (ZooKeeper,
//! storage, brokers, topics, users), and the line that says it is ready.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::isolation::Isolation;
use crate::java::{Jvms, POLL};
use crate::options::{Mode, Options, Ports, User};
use crate::{Certificates, Error, storage};

/// One broker JVM (and KRaft controller).
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) id: i32,
    pub(crate) client_port: u16,
    pub(crate) controller_port: u16,
    /// The plain listener, when the client listener is secured.
    pub(crate) internal_port: Option<u16>,
    pub(crate) process: Option<Child>,
}

impl Node {
    /// Where replication and this crate's administration reach the node.
    pub(crate) fn admin_port(&self) -> u16 {
        self.internal_port.unwrap_or(self.client_port)
    }

    /// The ports it listens on, the client port first.
    pub(crate) fn ports(&self) -> Vec<u16> {
        let mut ports = vec![self.client_port, self.controller_port];
        ports.extend(self.internal_port);
        ports
    }

    /// Its name in the logs and the ready line.
    pub(crate) fn name(&self) -> String {
        format!("kafka-{}", self.id)
    }
}

/// The ZooKeeper of ZooKeeper mode.
#[derive(Debug)]
pub(crate) struct ZooKeeper {
    pub(crate) port: u16,
    pub(crate) process: Option<Child>,
}

/// A running Kafka cluster with the topics `orders` and `orders.dlq`.
/// Dropped, it kills what still runs (call [`Cluster::shutdown`] first for
/// a clean stop) and removes a temporary data directory.
#[derive(Debug)]
pub struct Cluster {
    pub(crate) options: Options,
    pub(crate) jvms: Jvms,
    pub(crate) data: PathBuf,
    remove_data: bool,
    pub(crate) nodes: Vec<Node>,
    pub(crate) zookeeper: Option<ZooKeeper>,
    /// The user [`Cluster::client_config`] logs in as.
    pub(crate) login: Option<User>,
    pub(crate) started_in: Duration,
    /// `host:port` list of the client listeners, for `KAFKA_BROKERS`.
    pub bootstrap: String,
    /// `host:port` list of the plain listeners (the client ones when those
    /// are plain), for checks that bypass authentication.
    pub internal: String,
    /// The CA and client files, when the client listener speaks TLS.
    pub certificates: Option<Certificates>,
    /// Each broker's cgroup, with [`Options::isolate`].
    pub(crate) isolation: Option<Isolation>,
}

impl Cluster {
    /// Starts the cluster `options` describe and waits until every broker
    /// answers, the topics exist and the users are set.
    ///
    /// # Errors
    /// [`Error::Refused`] before anything started; otherwise what failed,
    /// after stopping what had started.
    pub fn start(options: Options) -> Result<Self, Error> {
        let began = Instant::now();
        if let Ports::From(port) = options.ports {
            if !(1024..=65435).contains(&port) || options.brokers > 10 {
                return Err(Error::Refused(format!(
                    "KAFKA_PORT must be within 1024..65435 (KAFKA_PORT+100 is used too) and at most 10 brokers, got {port} and {}",
                    options.brokers
                )));
            }
        }
        let (data, remove_data) = storage::data_dir(options.data.as_deref())?;
        let log_config = storage::write_log_config(&options.home, &data)?;
        let jvms = Jvms::new(
            &options.home,
            &log_config,
            &options.log_level,
            options.own_process_group,
        );
        let isolation = if options.isolate {
            Some(Isolation::new()?)
        } else {
            None
        };
        let secured = options.security.secured();
        let port = |offset: usize| -> Result<u16, Error> {
            match options.ports {
                Ports::From(base) => Ok(base + u16::try_from(offset).expect("few ports")),
                Ports::Free => free_port(),
            }
        };
        let mut nodes = Vec::new();
        for index in 0..options.brokers {
            nodes.push(Node {
                id: i32::try_from(index + 1).expect("few nodes"),
                client_port: port(index)?,
                controller_port: port(10 + index)?,
                internal_port: if secured {
                    Some(port(20 + index)?)
                } else {
                    None
                },
                process: None,
            });
        }
        let zookeeper = match options.mode {
            Mode::ZooKeeper => Some(ZooKeeper {
                port: port(100)?,
                process: None,
            }),
            Mode::KRaft => None,
        };
        let list = |port: fn(&Node) -> u16| {
            nodes
                .iter()
                .map(|node| format!("127.0.0.1:{}", port(node)))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut cluster = Self {
            bootstrap: list(|node| node.client_port),
            internal: list(Node::admin_port),
            login: options.security.users.first().cloned(),
            options,
            jvms,
            data,
            remove_data,
            nodes,
            zookeeper,
            certificates: None,
            started_in: Duration::ZERO,
            isolation,
        };
        if let Err(error) = cluster.bring_up() {
            cluster.shutdown();
            return Err(error);
        }
        cluster.started_in = began.elapsed();
        Ok(cluster)
    }

    fn bring_up(&mut self) -> Result<(), Error> {
        let options = &self.options;
        storage::check_layout(&self.data, &format!("{} {}", options.mode, options.brokers))?;
        if let Ports::From(_) = options.ports {
            let mut ports: Vec<u16> = self.nodes.iter().map(|node| node.client_port).collect();
            if options.mode == Mode::KRaft {
                ports.extend(self.nodes.iter().map(|node| node.controller_port));
            }
            ports.extend(self.nodes.iter().filter_map(|node| node.internal_port));
            ports.extend(self.zookeeper.as_ref().map(|zookeeper| zookeeper.port));
            if let Some(port) = ports.into_iter().find(|&port| listening(port)) {
                return Err(anyhow::anyhow!(
                    "127.0.0.1:{port} is already in use (another broker?); set KAFKA_PORT"
                )
                .into());
            }
        }
        if options.security.tls {
            self.certificates = Some(Certificates::make(&self.data)?);
        }
        let deadline = Instant::now() + options.start_timeout;
        if self.zookeeper.is_some() {
            self.start_zookeeper(deadline)?;
        }
        for index in 0..self.nodes.len() {
            self.write_properties(index)?;
        }
        if self.options.mode == Mode::KRaft {
            self.format()?;
        }
        for index in 0..self.nodes.len() {
            self.spawn(index)?;
        }
        self.wait_until_up(deadline)?;
        self.create_topics(deadline)?;
        let users = self.options.security.users.clone();
        self.set_users(&users)
    }

    /// Waits until ZooKeeper accepts connections.
    fn start_zookeeper(&mut self, deadline: Instant) -> Result<(), Error> {
        let port = self
            .zookeeper
            .as_ref()
            .map_or(0, |zookeeper| zookeeper.port);
        let config = self.zoo_cfg(port)?;
        let child = self
            .jvms
            .server(
                "zookeeper",
                "128m",
                // What QuorumPeerMain runs without a quorum.
                "org.apache.zookeeper.server.ZooKeeperServerMain",
                None,
            )?
            .arg(config)
            .spawn()
            .context("starting ZooKeeper")?;
        if let Some(zookeeper) = &mut self.zookeeper {
            zookeeper.process = Some(child);
        }
        while !listening(port) {
            self.check_waiting(deadline, &format!("ZooKeeper on 127.0.0.1:{port}"))?;
        }
        Ok(())
    }

    /// One step of a wait for `what`: fails if a JVM exited, the deadline
    /// passed or an interrupt came; otherwise sleeps a little.
    pub(crate) fn check_waiting(&mut self, deadline: Instant, what: &str) -> Result<(), Error> {
        self.options.interrupt.check()?;
        if let Some(exited) = self.exited().into_iter().next() {
            return Err(anyhow::anyhow!("{exited} before it was ready (its log is above)").into());
        }
        if Instant::now() >= deadline {
            return Err(anyhow::anyhow!(
                "{what} not ready after {}s",
                self.options.start_timeout.as_secs()
            )
            .into());
        }
        std::thread::sleep(POLL);
        Ok(())
    }

    /// The Kafka version that runs.
    pub fn version(&self) -> &str {
        &self.options.home.version
    }

    /// The data directory.
    pub fn data(&self) -> &std::path::Path {
        &self.data
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.kill_all();
        if let Some(isolation) = &mut self.isolation {
            let brokers: Vec<_> = self.nodes.iter().map(|n| (n.id, n.ports())).collect();
            isolation.clean_up(&brokers);
        }
        if self.remove_data {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

/// A loopback port nothing listens on right now.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr().context("free port")?.port())
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub(crate) fn listening(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
}
