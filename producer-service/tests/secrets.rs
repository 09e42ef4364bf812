//! Credentials given to the binary never come back out: not in `--help`,
//! not in its logs, even at debug level and while it fails to connect, and
//! not in the error a mistyped setting stops it with.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
        .env("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
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
        .env("MANAGEMENT_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "debug")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Wait for the failed connection attempt itself, then stop.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut logs = String::new();
    while !logs.contains("Connection refused") {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no connection attempt logged:\n{logs}"));
        logs += &line;
        logs.push('\n');
    }
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    logs.extend(lines.try_iter().map(|line| line + "\n"));
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert_no_secret(&logs);
}

/// Runs the binary with `env` added, expecting it to refuse to start;
/// returns all it printed, after checking that the refusal was logged once,
/// as an ERROR in JSON logs, on a line that names `names`.
fn refusal(env: &[(&str, &str)], names: &str) -> String {
    let mut all = String::new();
    for format in ["json", "text"] {
        let output = producer()
            .envs(env.iter().copied())
            .env("HTTP_ADDR", "127.0.0.1:0")
            .env("MANAGEMENT_ADDR", "127.0.0.1:0")
            .env("LOG_FORMAT", format)
            .output()
            .unwrap();
        assert!(!output.status.success(), "it refuses to start");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let failure: Vec<&str> = printed
            .lines()
            .filter(|line| line.contains(names))
            .collect();
        assert_eq!(failure.len(), 1, "logged once:\n{printed}");
        if format == "json" {
            let line: serde_json::Value = serde_json::from_str(failure[0]).unwrap();
            assert_eq!(line["level"], "ERROR");
            assert_eq!(line["message"], "producer-service failed");
        }
        all += &printed;
    }
    all
}

#[test]
fn a_mistyped_kafka_property_stops_the_service_naming_its_place_but_no_part_of_it() {
    let printed = refusal(
        &[("KAFKA_PROPERTIES", "linger.ms=5;sasl.pasword=hunter2-typo")],
        "KAFKA_PROPERTIES entry 2",
    );
    assert_no_secret(&printed);
    assert!(!printed.contains("pasword"), "{printed}");
}

#[test]
fn a_secret_cut_in_two_by_a_semicolon_is_never_printed() {
    let printed = refusal(
        &[("KAFKA_PROPERTIES", "sasl.password=hunter;zz9qk=word77")],
        "KAFKA_PROPERTIES entry 2",
    );
    for piece in ["hunter", "zz9qk", "word77"] {
        assert!(!printed.contains(piece), "{piece} leaked:\n{printed}");
    }
}

#[test]
fn an_escaped_semicolon_keeps_a_secret_whole() {
    let mut child = producer()
        .env("KAFKA_PROPERTIES", r"sasl.password=hunter\;zz9qk=word77")
        .env("KAFKA_BROKERS", "127.0.0.1:1")
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("MANAGEMENT_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = lines.by_ref().map_while(Result::ok).find(|line| {
        line.contains("producer-service listening") || line.contains("producer-service failed")
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let started = started.expect("a start-up line");
    assert!(started.contains("producer-service listening"), "{started}");
}

#[test]
fn tls_settings_without_tls_stop_the_service() {
    let printed = refusal(
        &[
            ("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
            ("KAFKA_PROPERTIES", ""),
            ("KAFKA_SSL_CA_LOCATION", "/nonexistent/ca.pem"),
        ],
        "KAFKA_SSL_CA_LOCATION needs TLS",
    );
    assert_no_secret(&printed);
}
