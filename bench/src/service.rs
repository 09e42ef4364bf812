//! A server under test (a release binary of ours, or the bridge's JVM) run
//! as a child process for the benchmark, its log written to a file (as a
//! deployment would) rather than parsed live, so the benchmark spends no
//! CPU on it while measuring.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A running service; killed if dropped without [`Service::stop`].
pub struct Service {
    child: Child,
    /// Where its JSON log goes.
    pub log: PathBuf,
}

impl Service {
    /// Starts `binary` with `env` (plus `LOG_FORMAT=json`) and nothing else
    /// of this process's environment, logging to `log`.
    pub fn start(binary: &Path, env: &[(&str, &str)], log: PathBuf) -> anyhow::Result<Self> {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("LOG_FORMAT", "json")
            .envs(env.iter().copied());
        Self::spawn(command, log)
    }

    /// Starts `command`, its standard output going to `log`.
    pub fn spawn(mut command: Command, log: PathBuf) -> anyhow::Result<Self> {
        let child = command
            .stdout(File::create(&log).context("cannot create the log file")?)
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {:?}", command.get_program()))?;
        Ok(Self { child, log })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory so far (the kernel's `VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        self.status_kib("VmHWM:")
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        self.status_kib("VmRSS:")
    }

    fn status_kib(&self, field: &str) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .context("cannot read /proc/PID/status")?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in /proc/PID/status"))
    }

    /// Sends SIGTERM and waits for a clean exit (a JVM's exit status after
    /// SIGTERM is 143, which counts as clean).
    pub fn stop(mut self) -> anyhow::Result<()> {
        let pid = Pid::from_raw(i32::try_from(self.child.id())?);
        kill(pid, Signal::SIGTERM)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() && status.code() != Some(143) {
                    bail!("exited with {status}");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
