//! The `java` command lines: which Java, the options of the long-running
//! JVMs and of the short-lived tools, and running a tool to its end while
//! an [`Interrupt`] may cut it short.

use std::os::fd::AsFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::{Error, Home, Interrupt};

/// How often a wait looks again: a child's exit, a port, an interrupt.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// `$JAVA_HOME/bin/java`, or `java` on `PATH`.
pub fn java() -> PathBuf {
    std::env::var_os("JAVA_HOME")
        .filter(|home| !home.is_empty())
        .map_or_else(
            || PathBuf::from("java"),
            |home| PathBuf::from(home).join("bin/java"),
        )
}

/// Checks that [`java`] is Java 17 or newer, which Kafka 4 needs.
///
/// # Errors
/// [`Error::Refused`], naming the package to install.
pub fn check_java() -> Result<(), Error> {
    let output = Command::new(java()).arg("-version").output();
    let major = output
        .ok()
        .and_then(|output| major_version(&String::from_utf8_lossy(&output.stderr)));
    match major {
        Some(major) if major >= 17 => Ok(()),
        found => Err(Error::Refused(format!(
            "Apache Kafka needs Java 17 or newer (found: {}): apt-get install openjdk-17-jre-headless",
            found.map_or_else(|| "none".to_owned(), |major| major.to_string())
        ))),
    }
}

/// The major version in `java -version`'s output: `openjdk version
/// "17.0.15" 2025-04-15`, or "1.8.0_402" before Java 9. Not always the first
/// line: `JAVA_TOOL_OPTIONS` makes the JVM say "Picked up ..." before it.
fn major_version(text: &str) -> Option<u32> {
    let line = text.lines().find(|line| line.contains("version \""))?;
    let quoted = line.split('"').nth(1)?;
    let quoted = quoted.strip_prefix("1.").unwrap_or(quoted);
    quoted
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Builds the JVMs' command lines for one cluster.
#[derive(Debug, Clone)]
pub(crate) struct Jvms {
    java: PathBuf,
    libs: PathBuf,
    common: Vec<String>,
    own_process_group: bool,
}

impl Jvms {
    /// Kafka from `home`, logging at `level` as `log_config` says.
    pub(crate) fn new(home: &Home, log_config: &Path, level: &str, own_group: bool) -> Self {
        let config = if home.reload4j() {
            format!("-Dlog4j.configuration=file:{}", log_config.display())
        } else {
            format!("-Dlog4j2.configurationFile={}", log_config.display())
        };
        Self {
            java: java(),
            libs: home.libs(),
            common: vec![
                "-XX:+ExitOnOutOfMemoryError".to_owned(),
                "-Djava.awt.headless=true".to_owned(),
                format!("-Dlocal.kafka.level={level}"),
                config,
            ],
            own_process_group: own_group,
        }
    }

    /// A long-running JVM named `name` in the logs, with `heap`, in the
    /// cgroup of `cgroup` (its `cgroup.procs`) if given: its standard output
    /// joins standard error, where the logs go.
    ///
    /// # Errors
    /// If standard error cannot be shared.
    pub(crate) fn server(
        &self,
        name: &str,
        heap: &str,
        main: &str,
        cgroup: Option<&Path>,
    ) -> anyhow::Result<Command> {
        let mut java = match cgroup {
            Some(procs) => self.group(in_cgroup(&self.java, procs)),
            None => self.command(),
        };
        java.arg(format!("-Xmx{heap}"))
            // As kafka-run-class.sh does for servers.
            .args([
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35",
                "-XX:+ExplicitGCInvokesConcurrent",
            ])
            .args(&self.common)
            .arg(format!("-Dlocal.kafka.name={name}"))
            .arg("-cp")
            .arg(self.class_path())
            .arg(main)
            .stdin(Stdio::null())
            .stdout(stderr()?);
        Ok(java)
    }

    /// A Kafka command-line tool (`main` is its class), ready for its
    /// arguments.
    pub(crate) fn tool(&self, main: &str) -> Command {
        let mut java = self.command();
        // Tools run for a second or two: the quick JIT and a small serial heap.
        java.args(["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .args(&self.common)
            .arg("-Dlocal.kafka.name=tool")
            .arg("-cp")
            .arg(self.class_path())
            .arg(main)
            .stdin(Stdio::null());
        java
    }

    fn command(&self) -> Command {
        self.group(Command::new(&self.java))
    }

    fn group(&self, mut java: Command) -> Command {
        if self.own_process_group {
            java.process_group(0);
        }
        java
    }

    fn class_path(&self) -> String {
        format!("{}/*", self.libs.display())
    }
}

/// A command that runs `program` (its arguments to come) in the cgroup of
/// `procs`: `sh` joins it first, then becomes the program (same pid).
fn in_cgroup(program: &Path, procs: &Path) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", "echo $$ > \"$0\" && exec \"$@\""])
        .arg(procs)
        .arg(program);
    command
}

/// A handle on this process's standard error, for a child's output.
fn stderr() -> anyhow::Result<Stdio> {
    let fd = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("sharing standard error")?;
    Ok(Stdio::from(fd))
}

/// Runs `command` to its end, its output into the file `log`.
///
/// # Errors
/// If it cannot start (the [`std::io::Error`] inside), or
/// [`Error::Interrupted`] (then it was killed).
pub(crate) fn run_logged(
    command: &mut Command,
    log: &Path,
    interrupt: &Interrupt,
) -> Result<ExitStatus, Error> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = command
        .stdout(file.try_clone().context("log file")?)
        .stderr(file)
        .spawn()
        .map_err(anyhow::Error::from)?;
    wait_child(&mut child, interrupt)
}

/// Runs a started tool to its end, failing with its log (`what` says what
/// it was doing) unless it succeeds.
///
/// # Errors
/// [`Error::Failed`], [`Error::Interrupted`].
pub(crate) fn finish_tool(
    child: &mut Child,
    log: &Path,
    what: &str,
    interrupt: &Interrupt,
) -> Result<(), Error> {
    let status = wait_child(child, interrupt)?;
    let output = std::fs::read_to_string(log).unwrap_or_default();
    let _ = std::fs::remove_file(log);
    if status.success() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{what} failed ({status}):\n{output}").into())
    }
}

/// Waits for `child` to exit, or kills it when `interrupt` is raised.
///
/// # Errors
/// [`Error::Interrupted`], or if waiting fails.
pub(crate) fn wait_child(child: &mut Child, interrupt: &Interrupt) -> Result<ExitStatus, Error> {
    loop {
        if let Some(status) = child.try_wait().context("waiting for a child")? {
            return Ok(status);
        }
        if interrupt.requested() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Interrupted);
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::major_version;

    #[test]
    fn the_major_version_is_read_from_the_version_line_wherever_it_is() {
        let picked_up = "Picked up JAVA_TOOL_OPTIONS: -Xss1m\n\
                         openjdk version \"17.0.15\" 2025-04-15\n\
                         OpenJDK Runtime Environment (build 17.0.15+6)\n";
        assert_eq!(major_version(picked_up), Some(17));
        assert_eq!(major_version("java version \"1.8.0_402\"\n"), Some(8));
        assert_eq!(
            major_version("openjdk version \"25\" 2025-09-16\n"),
            Some(25)
        );
        assert_eq!(major_version("bash: java: command not found\n"), None);
    }
}
