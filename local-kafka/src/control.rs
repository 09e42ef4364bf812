//! The JVMs once started: spawning a broker, noticing one that exited,
//! crashing, freezing, stopping and restarting nodes, and the clean
//! shutdown of the whole cluster.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cluster::Cluster;
use crate::java::POLL;
use crate::{Error, Interrupt};

/// How long a JVM may take to stop cleanly before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(60);

/// A JVM of the cluster that exited.
#[derive(Debug, Clone)]
pub struct Exited {
    /// The broker's node id; `None`: ZooKeeper.
    pub node: Option<i32>,
    /// Its process id.
    pub pid: u32,
    /// How it ended.
    pub status: ExitStatus,
}

impl std::fmt::Display for Exited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.node {
            Some(id) => write!(f, "broker {id} (kafka-{id}, pid {}) exited", self.pid),
            None => write!(f, "ZooKeeper (pid {}) exited", self.pid),
        }
    }
}

impl Cluster {
    /// Starts the JVM of node `index`.
    pub(crate) fn spawn(&mut self, index: usize) -> Result<(), Error> {
        let node = &self.nodes[index];
        let cgroup = match &self.isolation {
            Some(isolation) => Some(isolation.procs(node.client_port)?),
            None => None,
        };
        let child = self
            .jvms
            .server(
                &node.name(),
                &self.options.heap,
                "kafka.Kafka",
                cgroup.as_deref(),
            )?
            .arg(self.properties(index))
            .spawn()
            .context("starting a broker")?;
        self.nodes[index].process = Some(child);
        Ok(())
    }

    /// Cuts broker `id` off from the clients and the other brokers (`cut`),
    /// or heals it: its process runs on throughout
    /// ([`crate::isolation`]).
    ///
    /// # Errors
    /// If the cluster was not started with [`Options::isolate`], or
    /// iptables refuses.
    ///
    /// [`Options::isolate`]: crate::Options::isolate
    pub fn partition(&mut self, id: i32, cut: bool) -> Result<(), Error> {
        let ports = self
            .nodes
            .iter()
            .find(|node| node.id == id)
            .ok_or_else(|| Error::Refused(format!("no broker {id}")))?
            .ports();
        let isolation = self
            .isolation
            .as_mut()
            .ok_or_else(|| Error::Refused("the cluster was started without isolate".to_owned()))?;
        isolation.set_cut(id, &ports, cut)
    }

    /// The JVMs that exited since the last call, each reported once.
    pub fn exited(&mut self) -> Vec<Exited> {
        let mut exited = Vec::new();
        let zookeeper = self.zookeeper.as_mut().map(|z| (None, &mut z.process));
        let nodes = self
            .nodes
            .iter_mut()
            .map(|node| (Some(node.id), &mut node.process));
        for (node, process) in nodes.chain(zookeeper) {
            let Some(child) = process else { continue };
            if let Ok(Some(status)) = child.try_wait() {
                exited.push(Exited {
                    node,
                    pid: child.id(),
                    status,
                });
                *process = None;
            }
        }
        exited
    }

    /// How many broker JVMs run.
    pub fn running_brokers(&self) -> usize {
        self.nodes
            .iter()
            .filter(|node| node.process.is_some())
            .count()
    }

    /// The node ids, 1 to the cluster's size.
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|node| node.id).collect()
    }

    /// The process id of node `id`, while it runs.
    pub fn node_pid(&self, id: i32) -> Option<u32> {
        self.nodes
            .iter()
            .find(|node| node.id == id)?
            .process
            .as_ref()
            .map(Child::id)
    }

    fn process(&mut self, id: i32) -> &mut Option<Child> {
        &mut self
            .nodes
            .iter_mut()
            .find(|node| node.id == id)
            .unwrap_or_else(|| panic!("no node {id} in the cluster"))
            .process
    }

    /// Kills node `id` with SIGKILL, as a crash would.
    pub fn kill(&mut self, id: i32) {
        if let Some(mut child) = self.process(id).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills every broker with SIGKILL.
    pub fn crash(&mut self) {
        for id in self.node_ids() {
            self.kill(id);
        }
    }

    /// Kills every JVM, ZooKeeper too.
    pub(crate) fn kill_all(&mut self) {
        self.crash();
        if let Some(mut child) = self.zookeeper.as_mut().and_then(|z| z.process.take()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops node `id` with SIGTERM and waits up to `within` for it to
    /// exit. In KRaft mode that is a controlled shutdown (it hands its
    /// leaderships over first); in ZooKeeper mode the brokers run without
    /// one, and the controller moves the leaderships when the session ends.
    ///
    /// # Errors
    /// If it had not exited by then (it is killed).
    pub fn stop(&mut self, id: i32, within: Duration) -> Result<(), Error> {
        let mut children: Vec<Child> = self.process(id).take().into_iter().collect();
        let killed = terminate(&mut children, within, &Interrupt::default());
        if killed > 0 {
            return Err(anyhow::anyhow!("broker {id} did not stop within {within:?}").into());
        }
        Ok(())
    }

    /// Freezes node `id` (SIGSTOP), or thaws it (SIGCONT): a broker that
    /// stops answering without closing its connections.
    ///
    /// # Errors
    /// If it does not run.
    pub fn freeze(&self, id: i32, frozen: bool) -> Result<(), Error> {
        let signal = if frozen {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        let child = self
            .nodes
            .iter()
            .find(|node| node.id == id)
            .and_then(|node| node.process.as_ref())
            .with_context(|| format!("broker {id} does not run"))?;
        send(child, signal).with_context(|| format!("signalling broker {id}"))?;
        Ok(())
    }

    /// Starts every broker that is not running again, on the same ports and
    /// data, and waits until the whole cluster answers.
    ///
    /// # Errors
    /// If a broker cannot start or the cluster does not answer in time.
    pub fn restart(&mut self) -> Result<(), Error> {
        for index in 0..self.nodes.len() {
            if self.nodes[index].process.is_none() {
                self.spawn(index)?;
            }
        }
        self.wait_until_up(Instant::now() + self.options.start_timeout)
    }

    /// Stops every JVM cleanly: the brokers at once (SIGTERM), then
    /// ZooKeeper; a JVM still running after a minute, or when the
    /// interrupt is raised a second time, is killed. Returns how many were.
    pub fn shutdown(&mut self) -> usize {
        let interrupt = self.options.interrupt.clone();
        let mut brokers: Vec<Child> = self
            .nodes
            .iter_mut()
            .filter_map(|node| node.process.take())
            .collect();
        let mut killed = terminate(&mut brokers, STOP_WITHIN, &interrupt);
        let mut zookeeper: Vec<Child> = self
            .zookeeper
            .as_mut()
            .and_then(|z| z.process.take())
            .into_iter()
            .collect();
        killed += terminate(&mut zookeeper, STOP_WITHIN, &interrupt);
        killed
    }
}

/// Sends SIGTERM to each of `children` and waits for them all, killing
/// those left after `within` or once `interrupt` is forced; returns how
/// many it killed.
fn terminate(children: &mut [Child], within: Duration, interrupt: &Interrupt) -> usize {
    for child in children.iter() {
        let _ = send(child, Signal::SIGTERM);
    }
    let deadline = Instant::now() + within;
    loop {
        let left: Vec<usize> = (0..children.len())
            .filter(|&index| matches!(children[index].try_wait(), Ok(None)))
            .collect();
        if left.is_empty() {
            return 0;
        }
        if interrupt.forced() || Instant::now() >= deadline {
            eprintln!("killing {} JVM(s) that did not stop", left.len());
            for &index in &left {
                let _ = children[index].kill();
                let _ = children[index].wait();
            }
            return left.len();
        }
        std::thread::sleep(POLL);
    }
}

fn send(child: &Child, signal: Signal) -> nix::Result<()> {
    let pid = i32::try_from(child.id()).map_err(|_| nix::errno::Errno::ESRCH)?;
    kill(Pid::from_raw(pid), signal)
}
