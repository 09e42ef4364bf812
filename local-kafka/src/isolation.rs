//! Network partitions on one machine. With [`Options::isolate`], each
//! broker's JVM starts in a cgroup of its own; cutting a broker off then
//! drops every packet it sends (iptables' `cgroup` match) and every packet
//! to its listeners, until healed. Its connections hang, as across a broken
//! network, rather than being refused as with a stopped broker, and the
//! process runs on, unlike a frozen one. Needs root, cgroup v2 and iptables.
//!
//! [`Options::isolate`]: crate::Options::isolate

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context as _;

use crate::Error;

/// Where each broker's cgroup is, and which brokers are cut off. A broker
/// is known by its id and its listening ports, the client port first.
#[derive(Debug)]
pub(crate) struct Isolation {
    /// The cgroup v2 hierarchy (`/sys/fs/cgroup`, or its `unified/` beside
    /// v1 controllers).
    root: PathBuf,
    prefix: String,
    cut: Vec<i32>,
}

impl Isolation {
    /// Finds the cgroup v2 hierarchy and iptables.
    pub(crate) fn new() -> Result<Self, Error> {
        let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(PathBuf::from)
            .find(|root| {
                root.join("cgroup.procs").exists() && root.join("cgroup.controllers").exists()
            })
            .ok_or_else(|| {
                Error::Refused("isolating brokers needs a cgroup v2 hierarchy".to_owned())
            })?;
        let iptables = Command::new("iptables").arg("--version").output();
        if !iptables.is_ok_and(|output| output.status.success()) {
            return Err(Error::Refused(
                "isolating brokers needs iptables (apt-get install iptables)".to_owned(),
            ));
        }
        Ok(Self {
            root,
            prefix: format!("local-kafka-{}", std::process::id()),
            cut: Vec::new(),
        })
    }

    /// The cgroup of the broker on `client_port`, relative to the hierarchy
    /// (as iptables names it).
    fn name(&self, client_port: u16) -> String {
        format!("{}-{client_port}", self.prefix)
    }

    /// The `cgroup.procs` file a process writes its pid to, to join the
    /// cgroup of the broker on `client_port` (created if missing): sockets it
    /// opens from then on are matched.
    pub(crate) fn procs(&self, client_port: u16) -> Result<PathBuf, Error> {
        let cgroup = self.root.join(self.name(client_port));
        std::fs::create_dir_all(&cgroup)
            .with_context(|| format!("creating the cgroup {}", cgroup.display()))?;
        Ok(cgroup.join("cgroup.procs"))
    }

    /// Cuts broker `id` (listening on `ports`) off, or heals it.
    pub(crate) fn set_cut(&mut self, id: i32, ports: &[u16], cut: bool) -> Result<(), Error> {
        if self.cut.contains(&id) == cut {
            return Ok(());
        }
        rules(&self.name(ports[0]), ports, if cut { "-A" } else { "-D" })?;
        if cut {
            self.cut.push(id);
        } else {
            self.cut.retain(|other| *other != id);
        }
        Ok(())
    }

    /// Removes the rules of the brokers still cut off, and the cgroups of
    /// brokers that no longer run.
    pub(crate) fn clean_up(&mut self, brokers: &[(i32, Vec<u16>)]) {
        for (id, ports) in brokers {
            if self.cut.contains(id) {
                let _ = rules(&self.name(ports[0]), ports, "-D");
            }
            let _ = std::fs::remove_dir(self.root.join(self.name(ports[0])));
        }
        self.cut.clear();
    }
}

/// Adds (`-A`) or deletes (`-D`) the two rules that cut a broker off: what
/// its cgroup sends, and what reaches its ports.
fn rules(cgroup: &str, ports: &[u16], action: &str) -> Result<(), Error> {
    let ports = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let sent = ["OUTPUT", "-m", "cgroup", "--path", cgroup, "-j", "DROP"];
    let received = [
        "INPUT",
        "-p",
        "tcp",
        "-m",
        "multiport",
        "--dports",
        &ports,
        "-j",
        "DROP",
    ];
    for rule in [&sent[..], &received[..]] {
        let output = Command::new("iptables")
            .args(["-w", action])
            .args(rule)
            .output()
            .context("running iptables")?;
        if !output.status.success() {
            return Err(anyhow::anyhow!(
                "iptables {action} {}: {}",
                rule.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            )
            .into());
        }
    }
    Ok(())
}
