//! Correlation end to end, on librdkafka's mock cluster with both release
//! binaries: the client's `traceparent` and `x-request-id` reach the
//! producer's log, the Kafka record and the consumer's log, and both
//! services export their spans of that trace over OTLP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e_tests::{GROUP, start_consumer_with, start_producer_with};
use test_support::MockKafka;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN_ID: &str = "00f067aa0ba902b7";

#[test]
fn one_trace_id_follows_an_order_from_the_request_to_the_consumer_log() {
    let kafka = MockKafka::start();
    let collector = Collector::start();
    let otlp = [("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.as_str())];
    let (mut producer, url) = start_producer_with(&kafka.bootstrap, &otlp);
    let mut consumer = start_consumer_with(&kafka.bootstrap, GROUP, &otlp);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let response = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/orders"))
            .header("content-type", "application/json")
            .header("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN_ID}-01"))
            .header("x-request-id", "checkout-7")
            .body(e2e_tests::order_body(1))
            .send()
            .await
            .unwrap()
    });
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], "checkout-7");
    let accepted: serde_json::Value = runtime.block_on(response.json()).unwrap();
    let order_id = accepted["order_id"].as_str().unwrap().to_owned();

    let published = producer.wait_for_message("order published");
    assert_eq!(published["order_id"], order_id.as_str());
    assert_eq!(published["span"]["trace_id"], TRACE_ID);
    assert_eq!(published["span"]["request_id"], "checkout-7");

    let record = test_support::read(&kafka.bootstrap, "orders", 1, Duration::from_secs(10));
    let traceparent = test_support::header(&record[0], order_contract::headers::TRACEPARENT)
        .expect("the record carries a traceparent");
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[1], TRACE_ID, "same trace");
    assert_ne!(
        parts[2], CLIENT_SPAN_ID,
        "the producer's span is the parent"
    );

    let processed = consumer.wait_for("order processed", Duration::from_secs(60), |line| {
        line["message"] == "order processed" && line["order_id"] == order_id.as_str()
    });
    assert_eq!(processed["span"]["trace_id"], TRACE_ID);

    // Both flush their spans on the way out.
    producer.stop();
    consumer.stop();
    let trace_id = (0..TRACE_ID.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&TRACE_ID[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    let exports = collector.bodies.lock().unwrap();
    let with_trace = exports
        .iter()
        .filter(|(path, body)| path == "/v1/traces" && contains(body, &trace_id))
        .count();
    assert!(
        with_trace >= 2,
        "spans of the trace from both services, got {with_trace} of {} exports",
        exports.len()
    );
    for service in ["producer-service", "consumer-service"] {
        assert!(
            exports
                .iter()
                .any(|(_, body)| contains(body, service.as_bytes())),
            "no spans from {service}"
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A stand-in OTLP/HTTP collector: answers 200 to every request and keeps
/// each request's path and (protobuf) body.
struct Collector {
    url: String,
    bodies: Arc<Mutex<Vec<Export>>>,
}

/// The path and body of one request to the collector.
type Export = (String, Vec<u8>);

impl Collector {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let kept = Arc::clone(&kept);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    // Keep-alive: several requests per connection.
                    while let Some((path, body)) = read_request(&mut reader) {
                        kept.lock().unwrap().push((path, body));
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if reader.get_mut().write_all(answer).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { url, bodies }
    }
}

fn read_request(reader: &mut BufReader<std::net::TcpStream>) -> Option<Export> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let path = line.split(' ').nth(1)?.to_owned();
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, body))
}
