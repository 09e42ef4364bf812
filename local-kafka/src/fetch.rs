//! Kafka's jars, fetched once from Maven Central with `mvn` into a cache
//! (`~/.cache/orders-pipeline/kafka/<version>/libs`): a throwaway pom.xml
//! and Maven repository in a temporary directory beside the cache entry,
//! renamed into place only once complete, so an interrupted fetch is never
//! used and two fetches at once leave one good copy.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::Context as _;

use crate::{Error, Interrupt, java};

/// The log4j2 binding Kafka 4 needs (the version kafka-server 4.1.0's
/// log4j2 core has), and the reload4j of Kafka 3.9.
const LOG4J2_VERSION: &str = "2.24.3";
const RELOAD4J_VERSION: &str = "1.2.25";
const DEPENDENCY_PLUGIN: &str = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1";

/// A Kafka installation: a directory whose `libs/` holds every jar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// The directory.
    pub dir: PathBuf,
    /// Its Kafka version.
    pub version: String,
}

impl Home {
    /// The installation at `dir`, of `version`.
    ///
    /// # Errors
    /// If `dir` has no `libs/`.
    pub fn at(dir: PathBuf, version: &str) -> Result<Self, Error> {
        let home = Self {
            dir,
            version: version.to_owned(),
        };
        if home.libs().is_dir() {
            Ok(home)
        } else {
            Err(Error::Refused(format!(
                "no Apache Kafka in {} (no libs/ in it)",
                home.dir.display()
            )))
        }
    }

    /// The jars' directory: with `java -cp "$libs/*"` it runs any Kafka tool.
    pub fn libs(&self) -> PathBuf {
        self.dir.join("libs")
    }

    /// Whether this Kafka logs through reload4j (log4j 1), as 3.x does,
    /// rather than log4j2.
    pub(crate) fn reload4j(&self) -> bool {
        self.version.starts_with("3.")
    }
}

/// `$KAFKA_CACHE`'s default: `${XDG_CACHE_HOME:-~/.cache}/orders-pipeline/kafka`.
pub fn default_cache() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map_or_else(
            || {
                std::env::var_os("HOME")
                    .map_or_else(|| PathBuf::from("/root"), PathBuf::from)
                    .join(".cache")
            },
            PathBuf::from,
        );
    cache.join("orders-pipeline/kafka")
}

/// Kafka `version` from `cache`, fetched first if it is not there.
///
/// # Errors
/// [`Error::Refused`] without Maven, [`Error::Failed`] if Maven fails
/// (its output is in the message), [`Error::Interrupted`].
pub fn install(cache: &Path, version: &str, interrupt: &Interrupt) -> Result<Home, Error> {
    // One fetch at a time in a process (tests start clusters in parallel).
    static FETCHING: Mutex<()> = Mutex::new(());
    let dir = cache.join(version);
    if let Ok(home) = Home::at(dir.clone(), version) {
        return Ok(home);
    }
    let _one = FETCHING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Ok(home) = Home::at(dir.clone(), version) {
        return Ok(home);
    }
    eprintln!(
        "fetching Apache Kafka {version} from Maven Central into {} (once)",
        dir.display()
    );
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let work = Scratch(cache.join(format!(".fetch-{version}.{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&work.0);
    std::fs::create_dir_all(&work.0).context("creating the fetch directory")?;
    let pom = work.0.join("pom.xml");
    std::fs::write(&pom, pom_xml(version)).context("writing pom.xml")?;
    let log = work.0.join("mvn.log");
    let mut mvn = Command::new("mvn");
    mvn.args(["-B", "-q", "-C", "-f"])
        .arg(&pom)
        .arg(format!(
            "-Dmaven.repo.local={}",
            work.0.join("m2").display()
        ))
        .arg(format!("{DEPENDENCY_PLUGIN}:copy-dependencies"))
        .arg("-DincludeScope=runtime")
        .arg(format!(
            "-DoutputDirectory={}",
            work.0.join("home/libs").display()
        ))
        .stdin(Stdio::null());
    let status = match java::run_logged(&mut mvn, &log, interrupt) {
        Err(Error::Failed(error))
            if error
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
        {
            return Err(Error::Refused(format!(
                "Maven is needed to fetch Apache Kafka {version} once: apt-get install maven"
            )));
        }
        other => other?,
    };
    if !status.success() {
        return Err(anyhow::anyhow!(
            "could not fetch Apache Kafka {version} with Maven:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
        .into());
    }
    // Another run may have finished the same fetch meanwhile: keep its copy.
    if std::fs::rename(work.0.join("home"), &dir).is_err() && !dir.join("libs").is_dir() {
        return Err(
            anyhow::anyhow!("could not move the fetched Kafka to {}", dir.display()).into(),
        );
    }
    Home::at(dir, version)
}

/// The throwaway project: Kafka's server and tools, and the logging
/// binding its version needs.
fn pom_xml(version: &str) -> String {
    let dependency = |group: &str, artifact: &str, version: &str| {
        format!(
            "<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId><version>{version}</version></dependency>"
        )
    };
    // kafka-tools brings connect-runtime (Jetty, Jersey) for one tool this
    // crate does not use: left out.
    let mut dependencies = vec![
        dependency("org.apache.kafka", "kafka_2.13", version),
        format!(
            "<dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>{version}</version>\
             <exclusions>\
             <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>\
             <exclusion><groupId>com.fasterxml.jackson.jakarta.rs</groupId><artifactId>*</artifactId></exclusion>\
             <exclusion><groupId>com.fasterxml.jackson.jaxrs</groupId><artifactId>*</artifactId></exclusion>\
             </exclusions></dependency>"
        ),
    ];
    if version.starts_with("3.") {
        // Kafka 3.9 logs through slf4j to reload4j (log4j 1.x); kafka-tools
        // brings the slf4j binding, connect-runtime brought reload4j itself.
        dependencies.push(dependency("ch.qos.reload4j", "reload4j", RELOAD4J_VERSION));
        dependencies.push(dependency("org.slf4j", "slf4j-reload4j", "1.7.36"));
    } else {
        // Kafka 4 logs through slf4j 1.7 to log4j2, whose core kafka-server
        // brings; the binding is not a dependency of any Kafka jar.
        dependencies.push(dependency(
            "org.apache.logging.log4j",
            "log4j-slf4j-impl",
            LOG4J2_VERSION,
        ));
    }
    format!(
        "<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n\
         <modelVersion>4.0.0</modelVersion>\n\
         <groupId>local</groupId><artifactId>local-kafka</artifactId><version>1</version>\n\
         <packaging>pom</packaging>\n\
         <dependencies>\n{}\n</dependencies>\n\
         </project>\n",
        dependencies.join("\n")
    )
}

/// A directory removed when dropped, whatever happened.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_version_gets_its_own_logging_binding() {
        let kraft = super::pom_xml("4.1.0");
        assert!(kraft.contains("log4j-slf4j-impl") && !kraft.contains("reload4j"));
        let zookeeper = super::pom_xml("3.9.1");
        assert!(zookeeper.contains("slf4j-reload4j") && !zookeeper.contains("log4j-slf4j-impl"));
        assert!(zookeeper.contains("<version>3.9.1</version>"));
    }
}
