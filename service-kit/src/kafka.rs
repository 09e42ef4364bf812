//! Kafka connection settings common to both services, and the one place
//! where settings become an rdkafka [`ClientConfig`].

use std::path::PathBuf;
use std::str::FromStr;

use clap::{ArgGroup, Args, ValueEnum};
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, ClientContext};

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

    /// Extra librdkafka properties, `key=value` separated by `;`, applied last
    /// so they override the service's own settings. Use it for TLS, SASL and
    /// tuning, e.g. `security.protocol=SASL_SSL;sasl.mechanism=PLAIN`.
    /// See librdkafka's CONFIGURATION.md for every property.
    #[arg(
        long = "kafka-property",
        env = "KAFKA_PROPERTIES",
        value_delimiter = ';',
        value_name = "KEY=VALUE",
        value_parser = PropertyParser,
        // The values may hold credentials; --help must not print them.
        hide_env_values = true
    )]
    pub properties: Vec<KafkaProperty>,
}

impl KafkaArgs {
    /// Builds the client configuration: brokers and security, then the
    /// service's own `settings`, then the operator's
    /// [`properties`](Self::properties).
    pub fn client_config<'a>(
        &self,
        settings: impl IntoIterator<Item = (&'a str, String)>,
    ) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        config.set("security.protocol", self.security_protocol.as_str());
        if let Some(mechanism) = self.sasl_mechanism {
            config.set("sasl.mechanism", mechanism.as_str());
        }
        if let Some(username) = &self.sasl_username {
            config.set("sasl.username", username);
        }
        if let Some(password) = self
            .sasl_password
            .as_ref()
            .or(self.sasl_password_file.as_ref())
        {
            config.set("sasl.password", password.expose());
        }
        if let Some(ca) = &self.ssl_ca_location {
            config.set("ssl.ca.location", ca.to_string_lossy());
        }
        if let Some(certificate) = &self.ssl_certificate_location {
            config.set("ssl.certificate.location", certificate.to_string_lossy());
        }
        if let Some(key) = &self.ssl_key_location {
            config.set("ssl.key.location", key.to_string_lossy());
        }
        if let Some(password) = &self.ssl_key_password {
            config.set("ssl.key.password", password.expose());
        }
        for (key, value) in settings {
            config.set(key, value);
        }
        for property in &self.properties {
            config.set(&property.key, &property.value);
        }
        config
    }
}

/// Creates a Kafka client (producer or consumer) from `config`. A refusal
/// is a [`ClientError`], which never holds a setting's value.
///
/// # Errors
/// If librdkafka rejects a setting or cannot create the client.
pub fn create<C, X>(config: &ClientConfig, context: X) -> Result<C, ClientError>
where
    C: FromClientConfigAndContext<X>,
    X: ClientContext,
{
    config
        .create_with_context(context)
        .map_err(ClientError::from)
}

/// A Kafka client librdkafka would not create. Unlike rdkafka's own
/// `KafkaError::ClientConfig`, whose message ends with the setting's value,
/// it never holds a value: a mistyped name such as `sasl.pasword` still
/// carries a password, and start-up errors end up in logs.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// librdkafka does not know the setting, or refused its value.
    #[error("Kafka setting `{key}` is not accepted: {reason}")]
    Setting {
        /// The setting's name, as given.
        key: String,
        /// librdkafka's explanation, without the value.
        reason: String,
    },
    /// The settings were accepted, but the client could not be created.
    #[error(transparent)]
    Create(KafkaError),
}

impl From<KafkaError> for ClientError {
    fn from(error: KafkaError) -> Self {
        match error {
            KafkaError::ClientConfig(_, description, key, value) => {
                // Some explanations quote the value ("Invalid value \"…\" for
                // configuration property …"); those are not repeated.
                let reason = if value.is_empty() || !description.contains(&value) {
                    description
                } else {
                    "its value is not valid (not shown: it may be a secret)".to_owned()
                };
                Self::Setting { key, reason }
            }
            other => Self::Create(other),
        }
    }
}

/// `security.protocol`: whether the connection uses TLS and SASL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SecurityProtocol {
    /// No TLS, no authentication: local development only.
    #[default]
    #[value(name = "PLAINTEXT")]
    Plaintext,
    /// TLS, no SASL (the broker may still ask for a client certificate:
    /// `KAFKA_SSL_CERTIFICATE_LOCATION` and `KAFKA_SSL_KEY_LOCATION`).
    #[value(name = "SSL")]
    Ssl,
    /// SASL without TLS: the password travels in the clear with `PLAIN`.
    #[value(name = "SASL_PLAINTEXT")]
    SaslPlaintext,
    /// SASL over TLS: what managed clusters use.
    #[value(name = "SASL_SSL")]
    SaslSsl,
}

impl SecurityProtocol {
    /// The librdkafka value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaslMechanism {
    /// User name and password as they are; use it only over TLS.
    #[value(name = "PLAIN")]
    Plain,
    /// Salted challenge-response with SHA-256.
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    /// Salted challenge-response with SHA-512.
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// The librdkafka value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// One librdkafka property given on the command line or in `KAFKA_PROPERTIES`.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaProperty {
    /// Property name, e.g. `security.protocol`.
    pub key: String,
    /// Its value, with surrounding whitespace trimmed.
    pub value: String,
}

impl std::fmt::Debug for KafkaProperty {
    /// Values of properties that may hold credentials (`sasl.password`,
    /// `ssl.key.password`, `sasl.oauthbearer.client.secret`, `ssl.key.pem`,
    /// `sasl.jaas.config`...) are redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sensitive = ["password", "secret", "key", "jaas", "token"]
            .iter()
            .any(|word| self.key.to_ascii_lowercase().contains(word));
        let value = if sensitive { "[redacted]" } else { &self.value };
        write!(f, "{}={value:?}", self.key)
    }
}

/// A `KAFKA_PROPERTIES` entry that is not `key=value`. The entry itself is
/// not in the message: a mistyped one may still hold a credential.
#[derive(Debug, thiserror::Error)]
#[error("expected KEY=VALUE, got an entry without '=' or with an empty key")]
pub struct InvalidProperty;

impl FromStr for KafkaProperty {
    type Err = InvalidProperty;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => Ok(Self {
                key: key.trim().to_owned(),
                value: value.trim().to_owned(),
            }),
            _ => Err(InvalidProperty),
        }
    }
}

/// Parses `--kafka-property` values. clap's own error for a failed parse
/// quotes the value; this one does not.
#[derive(Debug, Clone, Copy)]
struct PropertyParser;

impl clap::builder::TypedValueParser for PropertyParser {
    type Value = KafkaProperty;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<KafkaProperty, clap::Error> {
        let invalid = |why: &dyn std::fmt::Display| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid KAFKA_PROPERTIES / --kafka-property entry: {why}\n"),
            )
        };
        value
            .to_str()
            .ok_or_else(|| invalid(&"not UTF-8"))?
            .parse()
            .map_err(|error: InvalidProperty| invalid(&error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        kafka: KafkaArgs,
    }

    #[test]
    fn operator_properties_override_service_settings() {
        let cli = Cli::parse_from([
            "test",
            "--kafka-brokers",
            "b1:9092,b2:9092",
            "--kafka-property",
            "acks=1;security.protocol=SASL_SSL",
        ]);
        let config = cli.kafka.client_config([("acks", "all".to_owned())]);
        assert_eq!(config.get("bootstrap.servers"), Some("b1:9092,b2:9092"));
        assert_eq!(config.get("acks"), Some("1"));
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
    }

    #[test]
    fn a_property_without_an_equals_sign_is_rejected() {
        let result = Cli::try_parse_from(["test", "--kafka-property", "acks"]);
        assert!(result.is_err());
    }

    #[test]
    fn values_may_contain_equals_signs_and_commas() {
        let property: KafkaProperty = "debug=broker,topic=x".parse().unwrap();
        assert_eq!(property.key, "debug");
        assert_eq!(property.value, "broker,topic=x");
    }

    #[test]
    fn sasl_and_tls_settings_become_librdkafka_properties() {
        let cli = Cli::parse_from([
            "test",
            "--kafka-security-protocol",
            "SASL_SSL",
            "--kafka-sasl-mechanism",
            "SCRAM-SHA-512",
            "--kafka-sasl-username",
            "alice",
            "--kafka-sasl-password",
            "s3cret",
            "--kafka-ssl-ca-location",
            "/etc/ca.pem",
            "--kafka-ssl-certificate-location",
            "/etc/client.pem",
            "--kafka-ssl-key-location",
            "/etc/client.key",
            "--kafka-ssl-key-password",
            "hunter6-key",
        ]);
        assert!(!format!("{:?}", cli.kafka).contains("hunter6"));
        let half = Cli::try_parse_from(["test", "--kafka-ssl-certificate-location", "/c.pem"]);
        assert!(half.is_err(), "a certificate needs its key");
        let config = cli.kafka.client_config([]);
        assert_eq!(
            config.get("ssl.certificate.location"),
            Some("/etc/client.pem")
        );
        assert_eq!(config.get("ssl.key.location"), Some("/etc/client.key"));
        assert_eq!(config.get("ssl.key.password"), Some("hunter6-key"));
        assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(config.get("sasl.username"), Some("alice"));
        assert_eq!(config.get("sasl.password"), Some("s3cret"));
        assert_eq!(config.get("ssl.ca.location"), Some("/etc/ca.pem"));
    }

    #[test]
    fn sasl_needs_a_mechanism_a_user_and_exactly_one_password_source() {
        let sasl = ["test", "--kafka-security-protocol", "SASL_PLAINTEXT"];
        let mechanism = ["--kafka-sasl-mechanism", "PLAIN"];
        let user = ["--kafka-sasl-username", "alice"];
        let password = ["--kafka-sasl-password", "pw"];
        let file = ["--kafka-sasl-password-file", "/dev/null"];
        let parse = |parts: &[&[&str]]| Cli::try_parse_from(parts.concat());
        assert!(parse(&[&sasl, &user, &password]).is_err(), "no mechanism");
        assert!(parse(&[&sasl, &mechanism, &password]).is_err(), "no user");
        assert!(parse(&[&sasl, &mechanism, &user]).is_err(), "no password");
        assert!(
            parse(&[&sasl, &mechanism, &user, &password, &file]).is_err(),
            "two passwords"
        );
        assert!(parse(&[&sasl, &mechanism, &user, &password]).is_ok());
        assert!(parse(&[&sasl, &mechanism, &user, &file]).is_ok());
        assert!(parse(&[&["test"]]).is_ok(), "PLAINTEXT needs nothing");
    }

    #[test]
    fn a_rejected_setting_is_named_without_its_value() {
        let kafka = |properties: &str| {
            Cli::parse_from(["test", "--kafka-property", properties])
                .kafka
                .client_config([])
        };
        let create = |config: &ClientConfig| {
            create::<rdkafka::producer::BaseProducer, _>(
                config,
                rdkafka::producer::DefaultProducerContext,
            )
            .err()
            .expect("librdkafka refuses it")
        };

        let typo = create(&kafka("sasl.pasword=hunter2"));
        let shown = format!("{typo} {typo:?}");
        assert!(shown.contains("sasl.pasword"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");

        // librdkafka quotes a refused value in its explanation.
        let refused = create(&kafka("acks=hunter3"));
        let shown = format!("{refused} {refused:?}");
        assert!(shown.contains("`acks`"), "{shown}");
        assert!(!shown.contains("hunter3"), "{shown}");
    }

    #[test]
    fn credentials_never_show_in_debug_output_or_parse_errors() {
        let cli = Cli::parse_from([
            "test",
            "--kafka-security-protocol",
            "SASL_SSL",
            "--kafka-sasl-mechanism",
            "PLAIN",
            "--kafka-sasl-username",
            "alice",
            "--kafka-sasl-password",
            "hunter2-password",
            "--kafka-property",
            "ssl.key.password=hunter3-key;sasl.oauthbearer.client.secret=hunter4;linger.ms=5",
        ]);
        let debug = format!("{:?}", cli.kafka);
        for secret in ["hunter2", "hunter3", "hunter4"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(
            debug.contains("alice") && debug.contains("linger.ms=\"5\""),
            "{debug}"
        );

        let error = Cli::try_parse_from(["test", "--kafka-property", "sasl.password hunter5"])
            .err()
            .unwrap()
            .to_string();
        assert!(!error.contains("hunter5"), "{error}");
    }
}
