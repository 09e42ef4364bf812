//! Kafka connection settings common to both services, and the one place
//! where settings become an rdkafka [`ClientConfig`].

use std::str::FromStr;

use clap::Args;
use rdkafka::ClientConfig;

/// How to reach the Kafka cluster.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Comma-separated `host:port` list of brokers to bootstrap from.
    #[arg(
        long = "kafka-brokers",
        env = "KAFKA_BROKERS",
        default_value = "localhost:9092"
    )]
    pub brokers: String,

    /// Extra librdkafka properties, `key=value` separated by `;`, applied last
    /// so they override the service's own settings. Use it for TLS, SASL and
    /// tuning, e.g. `security.protocol=SASL_SSL;sasl.mechanism=PLAIN`.
    /// See librdkafka's CONFIGURATION.md for every property.
    #[arg(
        long = "kafka-property",
        env = "KAFKA_PROPERTIES",
        value_delimiter = ';',
        value_name = "KEY=VALUE",
        // The values may hold credentials; --help must not print them.
        hide_env_values = true
    )]
    pub properties: Vec<KafkaProperty>,
}

impl KafkaArgs {
    /// Builds the client configuration: brokers, then the service's own
    /// `settings`, then the operator's [`properties`](Self::properties).
    pub fn client_config<'a>(
        &self,
        settings: impl IntoIterator<Item = (&'a str, String)>,
    ) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in settings {
            config.set(key, value);
        }
        for property in &self.properties {
            config.set(&property.key, &property.value);
        }
        config
    }
}

/// One librdkafka property given on the command line or in `KAFKA_PROPERTIES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaProperty {
    /// Property name, e.g. `security.protocol`.
    pub key: String,
    /// Its value, with surrounding whitespace trimmed.
    pub value: String,
}

/// A `KAFKA_PROPERTIES` entry that is not `key=value`.
#[derive(Debug, thiserror::Error)]
#[error("expected KEY=VALUE, got {0:?}")]
pub struct InvalidProperty(String);

impl FromStr for KafkaProperty {
    type Err = InvalidProperty;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => Ok(Self {
                key: key.trim().to_owned(),
                value: value.trim().to_owned(),
            }),
            _ => Err(InvalidProperty(s.to_owned())),
        }
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
}
