//! A service binary run as a child process, its JSON log lines collected so
//! tests can wait for and assert on what it logged.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

/// The longest shutdown either service documents at its defaults
/// (docs/kubernetes.md): producer-service 15 s for an upload in flight,
/// 11 s for its acknowledgement, 10 s for the flush; consumer-service 10 s
/// for a dead-letter write and 10 s for the final commit; each then at most
/// 6 s for the management listener and 2 s for the log writer. A test
/// holds a service to this bound, not to a shorter guess: a loaded machine
/// takes longer than a quiet one, and only the documented bound is a bug.
pub const SHUTDOWN_BOUND: Duration = Duration::from_secs(15 + 11 + 10 + 6 + 2);

/// A running service with `LOG_FORMAT=json`; killed when dropped.
pub struct ServiceProcess {
    child: Child,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
    reading: Reading,
}

/// Whether the reader thread drains the service's standard output: while
/// it does not, the pipe fills and stays full, as a paused terminal or a
/// stuck log shipper leaves it.
#[derive(Clone, Default)]
struct Reading(Arc<(Mutex<bool>, Condvar)>);

impl Reading {
    fn set_paused(&self, paused: bool) {
        *self.0.0.lock().unwrap() = paused;
        self.0.1.notify_all();
    }

    fn wait_while_paused(&self) {
        let (paused, changed) = &*self.0;
        drop(
            changed
                .wait_while(paused.lock().unwrap(), |paused| *paused)
                .unwrap(),
        );
    }
}

impl ServiceProcess {
    /// Starts `program` with `args` and only `env` (plus `LOG_FORMAT=json`
    /// and `PATH`) in its environment, so the developer's shell cannot change
    /// the test.
    ///
    /// # Panics
    /// If the program cannot be started.
    pub fn spawn(program: impl AsRef<OsStr>, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_in(std::path::Path::new("."), program, args, env)
    }

    /// [`ServiceProcess::spawn`] in the working directory `dir`.
    ///
    /// # Panics
    /// If the program cannot be started.
    pub fn spawn_in(
        dir: &std::path::Path,
        program: impl AsRef<OsStr>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(program.as_ref());
        command
            .current_dir(dir)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", program.as_ref()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        let reading = Reading::default();
        let reader = reading.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                reader.wait_while_paused();
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            reading,
        }
    }

    /// Stops draining the service's standard output, so that its writes
    /// block once the pipe is full; `false` drains it again.
    pub fn block_output(&self, blocked: bool) {
        self.reading.set_paused(blocked);
    }

    /// Waits up to `timeout` for a log line that satisfies `matches`.
    ///
    /// # Panics
    /// If none arrives in time; the message lists what was logged.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut matches: impl FnMut(&Value) -> bool,
    ) -> Value {
        if let Some(found) = self.seen.iter().find(|line| matches(line)) {
            return found.clone();
        }
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            self.seen.push(line.clone());
            if matches(&line) {
                return line;
            }
        }
        let tail = &self.seen[self.seen.len().saturating_sub(30)..];
        panic!("no log line {what} within {timeout:?}; the last lines were:\n{tail:#?}");
    }

    /// Waits up to 30 seconds for a line whose message is `message`.
    pub fn wait_for_message(&mut self, message: &str) -> Value {
        self.wait_for(message, Duration::from_secs(30), |line| {
            line["message"] == message
        })
    }

    /// The base URL (`http://host:port`) of the service's management
    /// listener, from its `management listener up` line.
    ///
    /// # Panics
    /// If the line does not come within 30 seconds.
    pub fn management_url(&mut self) -> String {
        let up = self.wait_for_message("management listener up");
        format!("http://{}", up["addr"].as_str().expect("addr logged"))
    }

    /// Every line logged so far.
    pub fn lines(&mut self) -> &[Value] {
        self.seen.extend(self.lines.try_iter());
        &self.seen
    }

    /// The lines logged so far whose message is `message`.
    pub fn logged(&mut self, message: &str) -> Vec<Value> {
        self.lines()
            .iter()
            .filter(|line| line["message"] == message)
            .cloned()
            .collect()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now (the kernel's `VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// Peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the process's /proc/PID/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc/PID/status"))
    }

    /// Sends `signal` to the process.
    ///
    /// # Panics
    /// If the signal cannot be sent.
    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.pid()).expect("pid fits in i32"));
        kill(pid, signal).expect("signal sent");
    }

    /// Pauses (SIGSTOP) or resumes (SIGCONT) the process: frozen, it
    /// neither reads nor heartbeats, as a process the scheduler starves.
    pub fn freeze(&self, frozen: bool) {
        self.signal(if frozen {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        });
    }

    /// Sends SIGTERM and waits up to `within` for the exit, then collects
    /// every remaining log line.
    ///
    /// # Panics
    /// If the process has not exited by then.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        let status = self.wait_exit(within);
        self.collect_rest();
        status
    }

    /// [`ServiceProcess::terminate`], asserting a clean exit within
    /// [`SHUTDOWN_BOUND`].
    ///
    /// # Panics
    /// If the process does not exit in time or exits with an error.
    pub fn stop(&mut self) {
        let status = self.terminate(SHUTDOWN_BOUND);
        assert!(status.success(), "exit status {status}");
    }

    /// Waits up to `within` for the process to exit by itself, then
    /// collects every remaining log line.
    ///
    /// # Panics
    /// If it has not exited by then.
    pub fn wait_for_exit(&mut self, within: Duration) -> ExitStatus {
        let status = self.wait_exit(within);
        self.collect_rest();
        status
    }

    /// Whether the process has exited (its status is kept for
    /// [`ServiceProcess::wait_for_exit`]).
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().expect("wait on child").is_some()
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn crash(&mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
        self.collect_rest();
    }

    fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait on child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The reader thread ends with the pipe; take all it read.
    fn collect_rest(&mut self) {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
