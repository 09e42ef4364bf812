//! Kafka connection settings common to both services ([`KafkaArgs`]), and
//! how they become a client's [`ClientSettings`]: brokers and security, then
//! the service's own settings, then the operator's properties.

mod client;
mod properties;
mod protocol;

use std::path::PathBuf;

use clap::{ArgGroup, Args};

use client::Origin;
pub use client::{ClientError, ClientSettings};
pub use properties::{InvalidProperty, KafkaProperty, Properties, Source};
pub use protocol::{SaslMechanism, SecurityProtocol};

use crate::Secret;

/// How to reach and authenticate to the Kafka cluster.
///
/// Managed clusters: Confluent Cloud takes `SASL_SSL` with `PLAIN` (an API
/// key and secret); Amazon MSK takes `SASL_SSL` with `SCRAM-SHA-512` (port
/// 9096), or `SSL` (port 9094); Aiven and Redpanda Cloud take `SASL_SSL` with
/// SCRAM. Their CA is usually in the system store, so `KAFKA_SSL_CA_LOCATION`
/// is only needed for a private CA.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("sasl-password").args(["sasl_password", "sasl_password_file"])))]
pub struct KafkaArgs {
    /// Comma-separated `host:port` list of brokers to bootstrap from.
    #[arg(
        long = "kafka-brokers",
        env = "KAFKA_BROKERS",
        default_value = "localhost:9092"
    )]
    pub brokers: String,

    /// How to talk to the brokers: in the clear or over TLS, with or without
    /// SASL authentication.
    #[arg(
        long = "kafka-security-protocol",
        env = "KAFKA_SECURITY_PROTOCOL",
        value_enum,
        default_value_t
    )]
    pub security_protocol: SecurityProtocol,

    /// SASL mechanism; required with `SASL_PLAINTEXT` and `SASL_SSL`.
    #[arg(
        long = "kafka-sasl-mechanism",
        env = "KAFKA_SASL_MECHANISM",
        value_enum,
        required_if_eq_any([("security_protocol", "SASL_PLAINTEXT"), ("security_protocol", "SASL_SSL")])
    )]
    pub sasl_mechanism: Option<SaslMechanism>,

    /// SASL user name (Confluent Cloud: the API key); required with SASL.
    #[arg(
        long = "kafka-sasl-username",
        env = "KAFKA_SASL_USERNAME",
        required_if_eq_any([("security_protocol", "SASL_PLAINTEXT"), ("security_protocol", "SASL_SSL")]),
        requires = "sasl-password"
    )]
    pub sasl_username: Option<String>,

    /// SASL password (Confluent Cloud: the API secret). Prefer
    /// `KAFKA_SASL_PASSWORD_FILE`: environment variables leak into process
    /// listings and crash reports more easily than files.
    #[arg(
        long = "kafka-sasl-password",
        env = "KAFKA_SASL_PASSWORD",
        hide_env_values = true
    )]
    pub sasl_password: Option<Secret>,

    /// File holding the SASL password (a Docker or Kubernetes secret); one
    /// trailing newline is ignored. Read once at start-up.
    #[arg(
        long = "kafka-sasl-password-file",
        env = "KAFKA_SASL_PASSWORD_FILE",
        value_name = "PATH",
        value_parser = Secret::from_file
    )]
    pub sasl_password_file: Option<Secret>,

    /// PEM file of the CA certificates that sign the brokers' certificates,
    /// for `SSL` and `SASL_SSL`. Unset: the system's CA store.
    #[arg(long = "kafka-ssl-ca-location", env = "KAFKA_SSL_CA_LOCATION")]
    pub ssl_ca_location: Option<PathBuf>,

    /// PEM file of this client's certificate, for brokers that require
    /// mutual TLS (`ssl.client.auth=required`); needs
    /// `KAFKA_SSL_KEY_LOCATION`.
    #[arg(
        long = "kafka-ssl-certificate-location",
        env = "KAFKA_SSL_CERTIFICATE_LOCATION",
        requires = "ssl_key_location"
    )]
    pub ssl_certificate_location: Option<PathBuf>,

    /// PEM file of the private key of `KAFKA_SSL_CERTIFICATE_LOCATION`.
    #[arg(
        long = "kafka-ssl-key-location",
        env = "KAFKA_SSL_KEY_LOCATION",
        requires = "ssl_certificate_location"
    )]
    pub ssl_key_location: Option<PathBuf>,

    /// Password of that private key, if it is encrypted.
    #[arg(
        long = "kafka-ssl-key-password",
        env = "KAFKA_SSL_KEY_PASSWORD",
        hide_env_values = true
    )]
    pub ssl_key_password: Option<Secret>,

    /// Extra librdkafka properties, `key=value` separated by `;` (a `;`
    /// inside a value is written `\;`, a backslash `\\`), applied last so
    /// they override the service's own settings: tuning, or what no
    /// `KAFKA_*` variable names (OAUTHBEARER, say). See librdkafka's
    /// CONFIGURATION.md for every property. Errors name an entry by its
    /// position, never by what it holds.
    #[arg(
        long = "kafka-properties",
        env = "KAFKA_PROPERTIES",
        value_name = "KEY=VALUE;...",
        value_parser = properties::ListParser,
        // The values may hold credentials; --help must not print them.
        hide_env_values = true
    )]
    pub properties: Option<Properties>,

    /// A file of librdkafka properties, one `key=value` a line (the value
    /// runs to the end of its line, `;` included; blank lines and `#`
    /// comments are skipped), applied after `KAFKA_PROPERTIES`: the place
    /// for values that hold `;`, and for secrets (a Docker or Kubernetes
    /// secret file). Read once at start-up.
    #[arg(
        long = "kafka-properties-file",
        env = "KAFKA_PROPERTIES_FILE",
        value_name = "PATH",
        value_parser = properties::FileParser
    )]
    pub properties_file: Option<Properties>,
}

impl KafkaArgs {
    /// A client's settings: brokers and security, then the service's own
    /// `settings`, then the operator's properties (`KAFKA_PROPERTIES`,
    /// then `KAFKA_PROPERTIES_FILE`), each later one winning.
    pub fn client_config<'a>(
        &self,
        settings: impl IntoIterator<Item = (&'a str, String)>,
    ) -> ClientSettings {
        let mut config = ClientSettings::default();
        let mut variable = |key: &str, value: &str, name: &'static str| {
            config.set(key, value, Origin::Variable(name));
        };
        variable("bootstrap.servers", &self.brokers, "KAFKA_BROKERS");
        variable(
            "security.protocol",
            self.security_protocol.as_str(),
            "KAFKA_SECURITY_PROTOCOL",
        );
        if let Some(mechanism) = self.sasl_mechanism {
            variable("sasl.mechanism", mechanism.as_str(), "KAFKA_SASL_MECHANISM");
        }
        if let Some(username) = &self.sasl_username {
            variable("sasl.username", username, "KAFKA_SASL_USERNAME");
        }
        if let Some(password) = &self.sasl_password {
            variable("sasl.password", password.expose(), "KAFKA_SASL_PASSWORD");
        }
        if let Some(password) = &self.sasl_password_file {
            variable(
                "sasl.password",
                password.expose(),
                "KAFKA_SASL_PASSWORD_FILE",
            );
        }
        let paths = [
            (
                "ssl.ca.location",
                &self.ssl_ca_location,
                "KAFKA_SSL_CA_LOCATION",
            ),
            (
                "ssl.certificate.location",
                &self.ssl_certificate_location,
                "KAFKA_SSL_CERTIFICATE_LOCATION",
            ),
            (
                "ssl.key.location",
                &self.ssl_key_location,
                "KAFKA_SSL_KEY_LOCATION",
            ),
        ];
        for (key, path, name) in paths {
            if let Some(path) = path {
                variable(key, &path.to_string_lossy(), name);
            }
        }
        if let Some(password) = &self.ssl_key_password {
            variable(
                "ssl.key.password",
                password.expose(),
                "KAFKA_SSL_KEY_PASSWORD",
            );
        }
        for (key, value) in settings {
            config.set(key, &value, Origin::Service);
        }
        let operator = self.properties.iter().chain(&self.properties_file);
        for (source, property) in operator.flat_map(|list| &list.0) {
            config.set(&property.key, &property.value, Origin::Operator(*source));
        }
        config
    }
}

#[cfg(test)]
mod tests;
