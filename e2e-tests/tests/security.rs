//! Kafka security end to end: Apache Kafka requiring SASL SCRAM-SHA-512
//! (users created the Kafka way), TLS with a CA the test makes, both, and
//! mutual TLS; both release binaries configured through the `KAFKA_SASL_*`
//! and `KAFKA_SSL_*` variables.

use std::time::{Duration, Instant};

use e2e_tests::{
    Broker, GROUP, GROUP_WAIT, get, order_body, post_all, spawn_producer, start_consumer_with,
    start_producer_with,
};
use test_support::ServiceProcess;
use test_support::kafka::{Certificates, Security};

const USER: &str = "orders-app";
const PASSWORD: &str = "correct-horse-battery";

fn broker() -> Broker {
    Broker::start_with_users(&[(USER, PASSWORD)])
}

fn sasl(password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT".to_owned()),
        ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512".to_owned()),
        ("KAFKA_SASL_USERNAME", USER.to_owned()),
        ("KAFKA_SASL_PASSWORD", password.to_owned()),
        ("DELIVERY_TIMEOUT_MS", "3000".to_owned()),
    ]
}

/// The settings for TLS trusting `ca`, over SASL with `password` if given.
fn tls(ca: &std::path::Path, password: Option<&str>) -> Vec<(&'static str, String)> {
    let mut env = match password {
        Some(password) => sasl(password),
        None => vec![("DELIVERY_TIMEOUT_MS", "3000".to_owned())],
    };
    let protocol = if password.is_some() {
        "SASL_SSL"
    } else {
        "SSL"
    };
    env.push(("KAFKA_SECURITY_PROTOCOL", protocol.to_owned()));
    env.push(("KAFKA_SSL_CA_LOCATION", ca.display().to_string()));
    env
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

fn certificates(broker: &Broker) -> Certificates {
    broker.certificates.clone().expect("a TLS broker")
}

/// Both services with `env` get an order from POST to the consumer's log,
/// and log no `secret`.
fn orders_flow(broker: &Broker, env: &[(&'static str, String)], secret: &str) {
    let env = borrowed(env);
    let (mut producer, url) = start_producer_with(&broker.bootstrap, &env);
    let mut consumer = start_consumer_with(&broker.bootstrap, GROUP, &env);

    let answer = post_all(&url, "application/json", vec![order_body(1)], 1).remove(0);
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let order_id = answer.body["order_id"].as_str().unwrap().to_owned();
    consumer.wait_for("order processed", GROUP_WAIT, |line| {
        line["message"] == "order processed" && line["order_id"] == order_id.as_str()
    });

    producer.stop();
    consumer.stop();
    assert_password_never_logged(&mut producer, secret);
    assert_password_never_logged(&mut consumer, secret);
}

/// Both services with `env` stay not ready for 8 s, `POST /orders` is
/// answered 503 and the reason (`why`, lower case) is logged without
/// flooding the log; returns the running services and the API's URL.
fn stay_unready(
    broker: &Broker,
    env: &[(&'static str, String)],
    why: &str,
) -> (ServiceProcess, ServiceProcess, String) {
    let env = borrowed(env);
    let stored = broker.watermark_count("orders");
    let (mut producer, url) = spawn_producer(&broker.bootstrap, &env);
    let producer_url = producer.management_url();
    let mut consumer = start_consumer_with(&broker.bootstrap, GROUP, &env);
    let consumer_url = consumer.management_url();

    // Long enough for several reconnect attempts.
    let started = Instant::now();
    let answer = post_all(&url, "application/json", vec![order_body(1)], 1).remove(0);
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    while started.elapsed() < Duration::from_secs(8) {
        assert_eq!(get(&format!("{producer_url}/readyz")).0, 503);
        assert_eq!(get(&format!("{consumer_url}/readyz")).0, 503);
        std::thread::sleep(Duration::from_millis(500));
    }

    for process in [&mut producer, &mut consumer] {
        // Each kind of librdkafka error is logged once per 30 s.
        let lines = process.lines().len();
        assert!(
            lines < 40,
            "{lines} log lines in 8 s: {:#?}",
            process.lines()
        );
        assert!(
            process
                .lines()
                .iter()
                .any(|line| line.to_string().to_lowercase().contains(why)),
            "the reason ({why}) is logged: {:#?}",
            process.lines()
        );
    }
    assert!(
        !producer
            .lines()
            .iter()
            .any(|l| l["message"] == "reached Kafka; ready"),
        "never ready"
    );
    assert_eq!(
        broker.watermark_count("orders"),
        stored,
        "nothing was published"
    );
    (producer, consumer, url)
}

fn assert_password_never_logged(process: &mut ServiceProcess, password: &str) {
    for line in process.lines() {
        assert!(
            !line.to_string().contains(password),
            "password logged: {line}"
        );
    }
}

#[test]
fn with_the_right_credentials_orders_flow_from_post_to_the_consumer_log() {
    orders_flow(&broker(), &sasl(PASSWORD), PASSWORD);
}

#[test]
fn over_tls_and_over_sasl_with_tls_orders_flow_from_post_to_the_consumer_log() {
    let users = [(USER, PASSWORD)];
    for sasl in [false, true] {
        let broker = Broker::start_secured(&Security {
            users: if sasl { &users } else { &[] },
            tls: true,
            client_auth: false,
        });
        let ca = certificates(&broker).ca;
        orders_flow(&broker, &tls(&ca, sasl.then_some(PASSWORD)), PASSWORD);
    }
}

#[test]
fn with_mutual_tls_orders_flow_and_without_a_client_certificate_nothing_is_published() {
    let broker = Broker::start_secured(&Security {
        tls: true,
        client_auth: true,
        ..Security::default()
    });
    let files = certificates(&broker);
    let mut env = tls(&files.ca, None);
    env.push((
        "KAFKA_SSL_CERTIFICATE_LOCATION",
        files.client_certificate.display().to_string(),
    ));
    env.push((
        "KAFKA_SSL_KEY_LOCATION",
        files.client_key.display().to_string(),
    ));
    orders_flow(&broker, &env, PASSWORD);

    let (mut producer, mut consumer, _) = stay_unready(&broker, &tls(&files.ca, None), "ssl");
    producer.stop();
    consumer.stop();
}

#[test]
fn a_wrong_ca_or_a_wrong_password_over_tls_leaves_both_services_unready_and_publishes_nothing() {
    let broker = Broker::start_secured(&Security {
        users: &[(USER, PASSWORD)],
        tls: true,
        client_auth: false,
    });
    let files = certificates(&broker);
    let wrong = "wrong-password-456";
    for (env, why, secret) in [
        (
            tls(&files.other_ca, Some(PASSWORD)),
            "certificate",
            PASSWORD,
        ),
        (tls(&files.ca, Some(wrong)), "authentication", wrong),
    ] {
        let (mut producer, mut consumer, _) = stay_unready(&broker, &env, why);
        producer.stop();
        consumer.stop();
        assert_password_never_logged(&mut producer, secret);
        assert_password_never_logged(&mut consumer, secret);
    }
}

#[test]
fn with_a_wrong_password_both_services_stay_unready_then_recover_once_the_broker_accepts_it() {
    let mut broker = broker();
    let wrong = "wrong-password-123";
    let (mut producer, mut consumer, url) = stay_unready(&broker, &sasl(wrong), "authentication");

    // The operator fixes the broker side: the same services, untouched,
    // get in on their own.
    broker.set_users(&[(USER, wrong)]);
    producer.wait_for("ready", Duration::from_secs(60), |l| {
        l["message"] == "reached Kafka; ready"
    });
    consumer.wait_for("assignment", GROUP_WAIT, |l| {
        l["message"] == "partitions assigned"
    });
    let answer = post_all(&url, "application/json", vec![order_body(2)], 1).remove(0);
    assert_eq!(answer.status, 201, "{:?}", answer.body);

    producer.stop();
    consumer.stop();
    for process in [&mut producer, &mut consumer] {
        assert_password_never_logged(process, wrong);
    }
}
