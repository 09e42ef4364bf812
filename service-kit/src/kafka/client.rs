//! The one place where settings become a librdkafka client: each setting
//! remembers where it came from, so that a refusal names the variable or
//! the entry to fix, and never a value (a mistyped name such as
//! `sasl.pasword` still carries a password, and start-up errors end up in
//! logs).

use std::collections::BTreeMap;

use rdkafka::config::{FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaConfRes;
use rdkafka::{ClientConfig, ClientContext};

use super::properties::Source;

/// Where one setting of a client's configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// One of the `KAFKA_*` variables, by name.
    Variable(&'static str),
    /// The service's own settings.
    Service,
    /// The operator's `KAFKA_PROPERTIES` or `KAFKA_PROPERTIES_FILE`.
    Operator(Source),
}

/// A client's configuration, ready to create the client.
#[derive(Default)]
pub struct ClientSettings {
    config: ClientConfig,
    origins: BTreeMap<String, Origin>,
}

impl ClientSettings {
    /// Sets `key`, remembering where it came from; a later setting of the
    /// same key wins, as in librdkafka.
    pub(super) fn set(&mut self, key: &str, value: &str, origin: Origin) {
        self.config.set(key, value);
        self.origins.insert(key.to_owned(), origin);
    }

    /// Adds `context` to librdkafka's `debug` contexts, keeping any the
    /// operator set: for a service that watches those lines in its log
    /// callback. Unless the operator asked for them (`RUST_LOG` at debug for
    /// `librdkafka`), they are not written out.
    pub fn add_debug_context(&mut self, context: &str) {
        let value = match self.get("debug") {
            Some(set)
                if set
                    .split(',')
                    .any(|c| c.trim() == context || c.trim() == "all") =>
            {
                set.to_owned()
            }
            Some(set) if !set.trim().is_empty() => format!("{set},{context}"),
            _ => context.to_owned(),
        };
        let origin = self
            .origins
            .get("debug")
            .copied()
            .unwrap_or(Origin::Service);
        self.set("debug", &value, origin);
        // rust-rdkafka sets the client's log level after creating it, from
        // the `log` crate's (info here): that would drop the debug lines.
        self.config.set_log_level(RDKafkaLogLevel::Debug);
    }

    /// The value `key` will have, for tests and checks.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.config.get(key)
    }

    /// Creates the client (a producer or a consumer): librdkafka checks
    /// every setting first, then TLS and SASL settings that the security
    /// protocol would silently ignore are refused.
    ///
    /// # Errors
    /// A [`ClientError`], which names the setting and never its value.
    pub fn create<C, X>(&self, context: X) -> Result<C, ClientError>
    where
        C: FromClientConfigAndContext<X>,
        X: ClientContext,
    {
        self.config
            .create_native_config()
            .map_err(|error| self.refused(error))?;
        self.check_security()?;
        self.config
            .create_with_context(context)
            .map_err(|error| self.refused(error))
    }

    /// TLS settings without TLS, or SASL settings without SASL: librdkafka
    /// ignores them, so `KAFKA_SSL_CA_LOCATION` with `PLAINTEXT` would
    /// connect in the clear.
    fn check_security(&self) -> Result<(), ClientError> {
        let protocol = self
            .get("security.protocol")
            .unwrap_or("plaintext")
            .to_ascii_lowercase();
        let tls = matches!(protocol.as_str(), "ssl" | "sasl_ssl");
        let sasl = protocol.starts_with("sasl_");
        for (key, origin) in &self.origins {
            let needs = if is_tls_setting(key) && !tls {
                "TLS (SSL or SASL_SSL)"
            } else if is_sasl_setting(key) && !sasl {
                "SASL (SASL_PLAINTEXT or SASL_SSL)"
            } else {
                continue;
            };
            return Err(ClientError::Ignored {
                setting: self.name(key, *origin),
                needs,
                protocol: protocol.to_ascii_uppercase(),
            });
        }
        Ok(())
    }

    /// How messages name `key`: a variable by its name, a property by its
    /// name and where it was given. Only for keys librdkafka knows (or the
    /// services' own): an unknown "key" may be a piece of a value.
    fn name(&self, key: &str, origin: Origin) -> String {
        match origin {
            Origin::Variable(variable) => variable.to_owned(),
            Origin::Service => format!("`{key}`"),
            Origin::Operator(source) => format!("`{key}` ({source})"),
        }
    }

    fn refused(&self, error: KafkaError) -> ClientError {
        let KafkaError::ClientConfig(result, _explanation, key, _value) = error else {
            return ClientError::Create(error);
        };
        let origin = self.origins.get(&key).copied().unwrap_or(Origin::Service);
        match (result, origin) {
            (RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN, Origin::Operator(source)) => {
                ClientError::Unknown(source)
            }
            (result, _) => {
                // librdkafka's explanation is never repeated: it quotes the
                // value, or for a list only the entry it refused, a piece
                // of the value that no check for the whole would catch.
                let reason = if result == RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN {
                    "librdkafka knows no such property"
                } else {
                    "librdkafka refused its value (not shown: it may be a secret; \
                     see librdkafka's CONFIGURATION.md for what it accepts)"
                };
                ClientError::Setting {
                    setting: self.name(&key, origin),
                    reason: reason.to_owned(),
                }
            }
        }
    }
}

fn is_tls_setting(key: &str) -> bool {
    key.starts_with("ssl.") || key == "enable.ssl.certificate.verification"
}

fn is_sasl_setting(key: &str) -> bool {
    key.starts_with("sasl.") || key.starts_with("enable.sasl.")
}

/// A Kafka client librdkafka would not create, or settings that cannot be
/// what the operator meant. No variant holds any part of a setting's value.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// librdkafka refused the setting's value (or, for the services' own
    /// settings, its name).
    #[error("Kafka setting {setting} is not accepted: {reason}")]
    Setting {
        /// The variable, or the property and where it was given.
        setting: String,
        /// Why, in words of our own: never librdkafka's, which quote values.
        reason: String,
    },
    /// An operator's property librdkafka does not know. Its name is not
    /// shown: a `;` inside a value splits it, and the "name" is then a piece
    /// of that value.
    #[error(
        "{0} names no librdkafka property (the name is not shown, in case it is a piece of a value: \
         write a ';' inside a value as '\\;', or use KAFKA_PROPERTIES_FILE)"
    )]
    Unknown(Source),
    /// A TLS or SASL setting that the security protocol would ignore.
    #[error(
        "{setting} needs {needs}, but the security protocol is {protocol}: \
         librdkafka would ignore it; set KAFKA_SECURITY_PROTOCOL or remove the setting"
    )]
    Ignored {
        /// The variable, or the property and where it was given.
        setting: String,
        /// What the setting needs.
        needs: &'static str,
        /// The effective `security.protocol`.
        protocol: String,
    },
    /// The settings were accepted, but the client could not be created.
    #[error(transparent)]
    Create(KafkaError),
}
