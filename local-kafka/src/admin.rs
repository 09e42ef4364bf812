//! Talking to the running cluster: waiting until every broker answers,
//! creating topics, setting SCRAM users, and the client settings of both
//! listeners.

use std::os::unix::fs::OpenOptionsExt as _;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::cluster::Cluster;
use crate::options::User;
use crate::{Error, TOPICS, java};

/// The mechanisms users get credentials for, one request each: Kafka 4.1
/// refuses two credentials of one user in a request ("A user credential
/// cannot be altered twice in the same request").
const MECHANISMS: [&str; 2] = ["SCRAM-SHA-512", "SCRAM-SHA-256"];

impl Cluster {
    /// Settings of a client of the plain listeners, which need no login.
    pub fn admin_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.internal);
        config
    }

    /// Settings of a client of the client listeners, as the services see
    /// them: logged in as the first user (SCRAM-SHA-512) and over TLS
    /// (trusting the cluster's CA, with its client certificate) when the
    /// listener requires it.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap)
            .set("security.protocol", self.options.security.protocol());
        if let Some(user) = &self.login {
            config
                .set("sasl.mechanism", MECHANISMS[0])
                .set("sasl.username", &user.name)
                .set("sasl.password", &user.password);
        }
        if let Some(certificates) = &self.certificates {
            config
                .set("ssl.ca.location", certificates.ca.display().to_string())
                .set(
                    "ssl.certificate.location",
                    certificates.client_certificate.display().to_string(),
                )
                .set(
                    "ssl.key.location",
                    certificates.client_key.display().to_string(),
                );
        }
        config
    }

    /// A Kafka command-line tool (`main` is its class) with this cluster's
    /// Kafka and logging, ready for its arguments.
    pub fn tool(&self, main: &str) -> Command {
        self.jvms.tool(main)
    }

    /// Waits until every running broker answers metadata requests on its
    /// plain listener and the cluster knows them all.
    pub(crate) fn wait_until_up(&mut self, deadline: Instant) -> Result<(), Error> {
        let client: BaseConsumer = self
            .admin_config()
            .create()
            .context("creating an admin client")?;
        loop {
            let brokers = client
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|metadata| metadata.brokers().len());
            if brokers.is_ok_and(|n| n == self.nodes.len()) {
                return Ok(());
            }
            self.check_waiting(deadline, "the cluster")?;
        }
    }

    /// Creates `name` with `partitions` partitions, replicated on every
    /// broker (at most three), `min.insync.replicas` as the brokers'.
    ///
    /// # Errors
    /// If Kafka refuses, even because it exists.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), Error> {
        let admin: AdminClient<DefaultClientContext> = self
            .admin_config()
            .create()
            .context("creating an admin client")?;
        let replicas = i32::try_from(self.options.replicas()).expect("few brokers");
        let min_isr = self.options.min_insync().to_string();
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replicas));
        if replicas > 1 {
            topic = topic.set("min.insync.replicas", &min_isr);
        }
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = futures::executor::block_on(admin.create_topics([&topic], &options))
            .context("create topics request")?;
        for result in results {
            if let Err((topic, code)) = result {
                return Err(anyhow::Error::new(TopicError { topic, code }).into());
            }
        }
        Ok(())
    }

    /// Creates the topics every cluster has, unless they exist (kept data),
    /// trying again until `deadline`: brokers just up may not all be
    /// registered with the controller yet.
    pub(crate) fn create_topics(&mut self, deadline: Instant) -> Result<(), Error> {
        for (name, partitions) in TOPICS {
            loop {
                match self.create_topic(name, partitions) {
                    Ok(()) => break,
                    Err(Error::Failed(error))
                        if error
                            .downcast_ref::<TopicError>()
                            .is_some_and(|e| e.code == RDKafkaErrorCode::TopicAlreadyExists) =>
                    {
                        break;
                    }
                    Err(error) if Instant::now() >= deadline => return Err(error),
                    Err(_) => self.check_waiting(deadline, "the topics")?,
                }
            }
        }
        Ok(())
    }

    /// Sets the SCRAM credentials of each of `users` (creating them if new,
    /// overwriting an existing user's password) through Kafka's admin API,
    /// which works in both modes, on new or kept data; users of earlier
    /// runs stay. [`Cluster::client_config`] logs in with the new password
    /// from then on.
    ///
    /// # Errors
    /// If Kafka's config tool fails.
    pub fn set_users(&mut self, users: &[User]) -> Result<(), Error> {
        let mut running = Vec::new();
        for (index, user) in users.iter().enumerate() {
            for mechanism in MECHANISMS {
                let file = self.data.join(format!("user-{index}-{mechanism}"));
                // In a file only its owner reads rather than on a command
                // line, escaped as a properties value.
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(file.with_extension("properties"))
                    .and_then(|mut out| {
                        use std::io::Write as _;
                        let password = user.password.replace('\\', "\\\\");
                        writeln!(out, "{mechanism}=password={password}")
                    })
                    .context("writing a credential file")?;
                let log = file.with_extension("log");
                let out = std::fs::File::create(&log).context("creating a tool log")?;
                let child = self
                    .tool("kafka.admin.ConfigCommand")
                    .arg("--bootstrap-server")
                    .arg(&self.internal)
                    .args(["--alter", "--entity-type", "users", "--entity-name"])
                    .arg(&user.name)
                    .arg("--add-config-file")
                    .arg(file.with_extension("properties"))
                    .stdout(out.try_clone().context("tool log")?)
                    .stderr(out)
                    .spawn()
                    .context("starting kafka-configs")?;
                running.push((user.name.clone(), mechanism, file, child, log));
            }
        }
        let mut failure = None;
        for (name, mechanism, file, mut child, log) in running {
            let what = format!("setting the SASL user {name} ({mechanism})");
            let result = java::finish_tool(&mut child, &log, &what, &self.options.interrupt);
            let _ = std::fs::remove_file(file.with_extension("properties"));
            if let Err(error) = result {
                failure.get_or_insert(error);
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        for user in users {
            if let Some(login) = self.login.as_mut().filter(|login| login.name == user.name) {
                login.password.clone_from(&user.password);
            }
        }
        Ok(())
    }
}

/// Kafka refused to create a topic.
#[derive(Debug, thiserror::Error)]
#[error("cannot create topic {topic}: {code}")]
struct TopicError {
    topic: String,
    code: RDKafkaErrorCode,
}
