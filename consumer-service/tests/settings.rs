//! Settings that cannot be what the operator meant stop the consumer at
//! start-up, naming the setting and never any part of its value.

use std::process::Command;

/// Runs the binary with `env`; returns all it printed, after checking that
/// it refused to start.
fn refused(env: &[(&str, &str)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_consumer-service"))
        .env_clear()
        .env("MANAGEMENT_ADDR", "127.0.0.1:0")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(!output.status.success(), "it refuses to start");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_secret_cut_in_two_by_a_semicolon_is_never_printed() {
    let printed = refused(&[(
        "KAFKA_PROPERTIES",
        "security.protocol=SASL_PLAINTEXT;sasl.mechanism=PLAIN;sasl.username=alice;\
         sasl.password=hunter;zz9qk=word77",
    )]);
    assert!(printed.contains("KAFKA_PROPERTIES entry 5"), "{printed}");
    for piece in ["hunter", "zz9qk", "word77"] {
        assert!(!printed.contains(piece), "{piece} leaked:\n{printed}");
    }
}

#[test]
fn tls_and_sasl_settings_without_tls_or_sasl_stop_the_consumer() {
    let printed = refused(&[("KAFKA_SSL_CA_LOCATION", "/nonexistent/ca.pem")]);
    assert!(
        printed.contains("KAFKA_SSL_CA_LOCATION needs TLS"),
        "{printed}"
    );
    let printed = refused(&[("KAFKA_PROPERTIES", "sasl.username=alice")]);
    assert!(
        printed.contains("`sasl.username` (KAFKA_PROPERTIES entry 1) needs SASL"),
        "{printed}"
    );
}
