//! Credentials given to the binary never come back out: not in `--help`,
//! not in its logs, even at debug level and while it fails to connect.

use std::process::{Command, Stdio};
use std::time::Duration;

const SECRETS: [(&str, &str); 4] = [
    ("KAFKA_SASL_PASSWORD", "hunter2-sasl"),
    ("API_TOKENS", "hunter3-token,hunter4-token"),
    ("KAFKA_PROPERTIES", "ssl.key.password=hunter5-key"),
    ("KAFKA_SASL_USERNAME", "alice"),
];

fn assert_no_secret(output: &str) {
    for secret in ["hunter2", "hunter3", "hunter4", "hunter5"] {
        assert!(!output.contains(secret), "{secret} leaked:\n{output}");
    }
}

fn producer() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_producer-service"));
    command
        .env_clear()
        .envs(SECRETS)
        .env("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
        .env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512");
    command
}

#[test]
fn help_lists_the_secret_settings_without_their_values() {
    let output = producer().arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SASL_PASSWORD_FILE",
        "API_TOKENS",
        "API_TOKENS_FILE",
    ] {
        assert!(help.contains(variable), "{variable} is documented");
    }
    assert_no_secret(&help);
}

#[test]
fn debug_logs_of_a_failing_connection_hold_no_secret() {
    let mut child = producer()
        .env("KAFKA_BROKERS", "127.0.0.1:1")
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "debug")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(logs.contains("Connection refused"), "it tried:\n{logs}");
    assert_no_secret(&logs);
}
