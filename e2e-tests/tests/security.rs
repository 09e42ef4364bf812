//! Kafka authentication end to end: Apache Kafka requiring SASL
//! SCRAM-SHA-512 (users created the Kafka way), both release binaries
//! configured through the `KAFKA_SASL_*` variables.

use std::time::{Duration, Instant};

use e2e_tests::{
    Broker, GROUP, GROUP_WAIT, order_body, post_all, spawn_producer, start_consumer_with,
    start_producer_with,
};
use test_support::ServiceProcess;

const USER: &str = "orders-app";
const PASSWORD: &str = "correct-horse-battery";

fn broker() -> Broker {
    Broker::start_with_users(&[(USER, PASSWORD)])
}

fn sasl(password: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
        ("KAFKA_SASL_USERNAME", USER),
        ("KAFKA_SASL_PASSWORD", password),
        ("DELIVERY_TIMEOUT_MS", "3000"),
    ]
}

fn assert_password_never_logged(process: &mut ServiceProcess, password: &str) {
    for line in process.lines() {
        assert!(
            !line.to_string().contains(password),
            "password logged: {line}"
        );
    }
}

fn get_status(url: &str) -> u16 {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async { reqwest::get(url).await.unwrap().status().as_u16() })
}

#[test]
fn with_the_right_credentials_orders_flow_from_post_to_the_consumer_log() {
    let broker = broker();
    let env = sasl(PASSWORD);
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
    assert_password_never_logged(&mut producer, PASSWORD);
    assert_password_never_logged(&mut consumer, PASSWORD);
}

#[test]
fn with_a_wrong_password_both_services_stay_unready_then_recover_once_the_broker_accepts_it() {
    let mut broker = broker();
    let wrong = "wrong-password-123";
    let env = sasl(wrong);
    let (mut producer, url) = spawn_producer(&broker.bootstrap, &env);
    let mut consumer = start_consumer_with(&broker.bootstrap, GROUP, &env);
    let health = consumer.wait_for_message("consumer-service health listener up");
    let consumer_url = format!("http://{}", health["addr"].as_str().unwrap());

    // Long enough for several reconnect attempts.
    let started = Instant::now();
    let answer = post_all(&url, "application/json", vec![order_body(1)], 1).remove(0);
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    while started.elapsed() < Duration::from_secs(8) {
        assert_eq!(get_status(&format!("{url}/readyz")), 503);
        assert_eq!(get_status(&format!("{consumer_url}/readyz")), 503);
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
                .any(|line| line.to_string().to_lowercase().contains("authentication")),
            "the reason is logged"
        );
    }
    assert!(
        !producer
            .lines()
            .iter()
            .any(|l| l["message"] == "reached Kafka; ready"),
        "never ready"
    );

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
