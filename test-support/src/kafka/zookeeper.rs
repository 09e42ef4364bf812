//! Apache Kafka 3.9 in ZooKeeper mode, the mode `docker-compose.yml` runs,
//! through `scripts/local-broker.sh`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Apache Kafka 3.9 in ZooKeeper mode, one broker and ZooKeeper, as
/// `docker-compose.yml` runs them: `scripts/local-broker.sh` with
/// `ZOOKEEPER=1`, stopped (SIGTERM, which stops both JVMs) when dropped.
pub struct ZooKeeperKafka {
    script: std::process::Child,
    /// `host:port` for `KAFKA_BROKERS`.
    pub bootstrap: String,
}

impl ZooKeeperKafka {
    /// Starts it on a free port and waits until the script says it is ready,
    /// topics created.
    ///
    /// # Panics
    /// If it is not ready within two minutes (the first run fetches Kafka
    /// 3.9 too).
    pub fn start() -> Self {
        let port = crate::free_port();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/local-broker.sh");
        let mut child = Command::new(script)
            .env("ZOOKEEPER", "1")
            .env("KAFKA_PORT", port.to_string())
            .env("KAFKA_LOG_LEVEL", "ERROR")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("scripts/local-broker.sh starts");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = std::sync::mpsc::channel();
        // Drains the script's output to its end, so that it never blocks.
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.contains(" ready on ") => break,
                Ok(line) => seen.push(line),
                Err(_) => panic!("ZooKeeper-mode Kafka not ready in time: {seen:#?}"),
            }
        }
        Self {
            script: child,
            bootstrap: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for ZooKeeperKafka {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.script.id()).expect("pid"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.script.wait();
    }
}
