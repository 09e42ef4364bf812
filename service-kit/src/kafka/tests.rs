//! How `KafkaArgs` becomes client settings, and what it refuses.

use super::*;
use clap::Parser;
use rdkafka::producer::{BaseProducer, DefaultProducerContext};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    kafka: KafkaArgs,
}

fn args(flags: &[&str]) -> KafkaArgs {
    Cli::parse_from([&["test"], flags].concat()).kafka
}

#[test]
fn a_debug_context_the_service_watches_is_added_to_the_operators_own() {
    let mut config = args(&[]).client_config([]);
    config.add_debug_context("metadata");
    assert_eq!(config.get("debug"), Some("metadata"));

    let mut config = args(&["--kafka-properties", "debug=broker,fetch"]).client_config([]);
    config.add_debug_context("metadata");
    config.add_debug_context("metadata");
    assert_eq!(config.get("debug"), Some("broker,fetch,metadata"));

    let mut config = args(&["--kafka-properties", "debug=all"]).client_config([]);
    config.add_debug_context("metadata");
    assert_eq!(config.get("debug"), Some("all"));
}

/// What creating a producer from `flags` fails with.
fn refusal(flags: &[&str]) -> String {
    let error = args(flags)
        .client_config([])
        .create::<BaseProducer, _>(DefaultProducerContext)
        .err()
        .expect("refused");
    format!("{error} {error:?}")
}

#[test]
fn operator_properties_override_service_settings() {
    let kafka = args(&[
        "--kafka-brokers",
        "b1:9092,b2:9092",
        "--kafka-properties",
        "acks=1;security.protocol=SASL_SSL",
    ]);
    let config = kafka.client_config([("acks", "all".to_owned())]);
    assert_eq!(config.get("bootstrap.servers"), Some("b1:9092,b2:9092"));
    assert_eq!(config.get("acks"), Some("1"));
    assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
}

#[test]
fn the_properties_file_comes_last() {
    let path = std::env::temp_dir().join(format!("kafka-{}.properties", std::process::id()));
    std::fs::write(&path, "acks=0\nsasl.password=a;b\n").unwrap();
    let kafka = args(&[
        "--kafka-properties",
        "acks=1;linger.ms=7",
        "--kafka-properties-file",
        path.to_str().unwrap(),
    ]);
    std::fs::remove_file(&path).unwrap();
    let config = kafka.client_config([("acks", "all".to_owned())]);
    assert_eq!(config.get("acks"), Some("0"));
    assert_eq!(config.get("linger.ms"), Some("7"));
    assert_eq!(config.get("sasl.password"), Some("a;b"));
}

#[test]
fn a_property_without_an_equals_sign_is_rejected() {
    let result = Cli::try_parse_from(["test", "--kafka-properties", "acks"]);
    assert!(result.is_err());
}

#[test]
fn sasl_and_tls_settings_become_librdkafka_properties() {
    let kafka = args(&[
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
    assert!(!format!("{kafka:?}").contains("hunter6"));
    let half = Cli::try_parse_from(["test", "--kafka-ssl-certificate-location", "/c.pem"]);
    assert!(half.is_err(), "a certificate needs its key");
    let config = kafka.client_config([]);
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
    let typo = refusal(&["--kafka-properties", "sasl.pasword=hunter2"]);
    assert!(typo.contains("KAFKA_PROPERTIES entry 1"), "{typo}");
    assert!(!typo.contains("hunter2"), "{typo}");

    // librdkafka quotes a refused value in its explanation.
    let refused = refusal(&["--kafka-properties", "linger.ms=5;acks=hunter3"]);
    assert!(
        refused.contains("`acks` (KAFKA_PROPERTIES entry 2)"),
        "{refused}"
    );
    assert!(!refused.contains("hunter3"), "{refused}");

    // For a list, librdkafka quotes only the entry it refused: a piece of
    // the value, which no check for the whole value would catch.
    let listed = refusal(&["--kafka-properties", "debug=all,zz9qkword77"]);
    assert!(
        listed.contains("`debug` (KAFKA_PROPERTIES entry 1)"),
        "{listed}"
    );
    assert!(!listed.contains("zz9qk"), "{listed}");
}

#[test]
fn a_secret_split_by_a_semicolon_is_never_shown() {
    let sasl = "security.protocol=SASL_PLAINTEXT;sasl.mechanism=PLAIN;sasl.username=alice";
    // A "key" cut out of the value, then an entry with no '=' at all.
    for cut in [
        "sasl.password=hunter;zz9qk=word77",
        "sasl.password=hunter;zz9qk",
    ] {
        let properties = format!("{sasl};{cut}");
        let shown = match Cli::try_parse_from(["test", "--kafka-properties", &properties]) {
            Ok(cli) => {
                let error = cli
                    .kafka
                    .client_config([])
                    .create::<BaseProducer, _>(DefaultProducerContext)
                    .err()
                    .expect("refused");
                format!("{error} {error:?} {:?}", cli.kafka)
            }
            Err(error) => error.to_string(),
        };
        assert!(shown.contains("KAFKA_PROPERTIES entry 5"), "{shown}");
        for part in ["hunter", "zz9qk", "word77"] {
            assert!(!shown.contains(part), "{shown}");
        }
    }
}

#[test]
fn tls_and_sasl_settings_the_protocol_would_ignore_are_refused() {
    let tls = refusal(&["--kafka-ssl-ca-location", "/nonexistent"]);
    assert!(
        tls.contains("KAFKA_SSL_CA_LOCATION needs TLS") && tls.contains("PLAINTEXT"),
        "{tls}"
    );
    let sasl = refusal(&[
        "--kafka-security-protocol",
        "SSL",
        "--kafka-properties",
        "sasl.username=alice",
    ]);
    assert!(
        sasl.contains("`sasl.username` (KAFKA_PROPERTIES entry 1) needs SASL"),
        "{sasl}"
    );

    // The protocol may come from the properties too.
    let kafka = args(&[
        "--kafka-ssl-ca-location",
        "/etc/ssl/certs/ca-certificates.crt",
        "--kafka-properties",
        "security.protocol=ssl",
    ]);
    kafka
        .client_config([])
        .create::<BaseProducer, _>(DefaultProducerContext)
        .expect("TLS settings with TLS are accepted");
}

#[test]
fn credentials_never_show_in_debug_output_or_parse_errors() {
    let kafka = args(&[
        "--kafka-security-protocol",
        "SASL_SSL",
        "--kafka-sasl-mechanism",
        "PLAIN",
        "--kafka-sasl-username",
        "alice",
        "--kafka-sasl-password",
        "hunter2-password",
        "--kafka-properties",
        "ssl.key.password=hunter3-key;sasl.oauthbearer.client.secret=hunter4;linger.ms=5",
    ]);
    let debug = format!("{kafka:?}");
    for secret in ["hunter2", "hunter3", "hunter4"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("alice"), "{debug}");

    let error = Cli::try_parse_from(["test", "--kafka-properties", "sasl.password hunter5"])
        .err()
        .unwrap()
        .to_string();
    assert!(!error.contains("hunter5"), "{error}");
}
