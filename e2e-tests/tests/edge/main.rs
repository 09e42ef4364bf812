//! The public edge under pressure, with producer-service's default limits:
//! the worst clients the limits allow, on every connection at once, cannot
//! exhaust its memory or its probes (docs/security.md), and when
//! Kafka stops answering every order that reached the producer is named in
//! its answer, so that whatever the broker stored later can be matched.

mod hostile;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use e2e_tests::{Broker, spawn_producer, start_producer_with};
use hostile::{
    big_headers, head_of, oversized_head, pipelined_unread, probe_until, slow_headers,
    stalled_upload,
};
use rdkafka::Message;
use serde_json::{Value, json};

/// The defaults this test holds the service to: `MAX_CONNECTIONS`,
/// `MAX_HEADER_BYTES`, `HEADER_READ_TIMEOUT_MS`, `WRITE_TIMEOUT_MS` and
/// `REQUEST_TIMEOUT_MS`.
const MAX_CONNECTIONS: usize = 2048;
const MAX_HEADER_BYTES: usize = 16 * 1024;
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// What a busy machine may add to a timeout before the close is seen.
const SLACK: Duration = Duration::from_secs(5);

/// `MAX_IN_FLIGHT_ORDERS`, `MAX_BODY_BYTES`, `MAX_IN_FLIGHT_BATCHES` and
/// `MAX_BATCH_BODY_BYTES`.
const MAX_IN_FLIGHT_ORDERS: usize = 1024;
const MAX_BODY_BYTES: usize = 16 * 1024;
const MAX_IN_FLIGHT_BATCHES: usize = 16;
const MAX_BATCH_BODY_BYTES: usize = 1024 * 1024;

/// Every connection the service allows, each held the worst way its kind
/// of client can: uploads that stall just short of the largest body (as
/// many as may be read at once, each holding a body and a read buffer),
/// pipelined requests whose answers are never read, half heads, and on all
/// the other connections heads one byte short of the limit.
const STALLED_UPLOADS: usize = MAX_IN_FLIGHT_ORDERS;
const STALLED_BATCHES: usize = MAX_IN_FLIGHT_BATCHES;
const PIPELINED: usize = 100;
const SLOW_HEADERS: usize = 8;
const BIG_HEADERS: usize =
    MAX_CONNECTIONS - STALLED_UPLOADS - STALLED_BATCHES - PIPELINED - SLOW_HEADERS;

#[test]
fn the_worst_clients_at_every_connection_exhaust_neither_memory_nor_the_probes() {
    let broker = Broker::start();
    let (mut producer, url) = start_producer_with(&broker.bootstrap, &[]);
    let api: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let management: SocketAddr = producer
        .management_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let (stop_probing, stop) = std::sync::mpsc::channel();
    let prober = std::thread::spawn(move || probe_until(management, stop));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (held, pipelined, uploads, oversized, order) = runtime.block_on(async {
        let (sent, mut heads_sent) = tokio::sync::mpsc::channel(MAX_CONNECTIONS);
        let head = head_of(MAX_HEADER_BYTES - 1);
        let mut held: Vec<_> = (0..BIG_HEADERS)
            .map(|_| tokio::spawn(big_headers(api, head.clone(), sent.clone())))
            .collect();
        held.extend((0..SLOW_HEADERS).map(|_| tokio::spawn(slow_headers(api, sent.clone()))));
        for _ in 0..BIG_HEADERS + SLOW_HEADERS {
            heads_sent.recv().await.expect("every head is sent");
        }
        let give_up = WRITE_TIMEOUT * 3;
        let pipelined: Vec<_> = (0..PIPELINED)
            .map(|_| tokio::spawn(pipelined_unread(api, give_up)))
            .collect();
        let mut stalled: Vec<_> = (0..STALLED_UPLOADS)
            .map(|_| tokio::spawn(stalled_upload(api, "/orders", MAX_BODY_BYTES)))
            .collect();
        stalled.extend(
            (0..STALLED_BATCHES)
                .map(|_| tokio::spawn(stalled_upload(api, "/orders/batch", MAX_BATCH_BODY_BYTES))),
        );
        let mut results = (Vec::new(), Vec::new(), Vec::new());
        for client in held {
            results.0.push(client.await.unwrap());
        }
        for client in pipelined {
            results.1.push(client.await.unwrap());
        }
        for client in stalled {
            results.2.push(client.await.unwrap());
        }
        // Then a head over the limit is refused, and a well-behaved client
        // is served.
        let oversized = oversized_head(api, MAX_HEADER_BYTES).await;
        let order = json!({"customer_id": "cust-1", "currency": "EUR",
            "items": [{"sku": "BOOK-1", "quantity": 1, "unit_price_cents": 1299}]});
        let answer = reqwest::Client::new()
            .post(format!("{url}/orders"))
            .json(&order)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("a well-behaved client is answered");
        (
            results.0,
            results.1,
            results.2,
            oversized,
            answer.status().as_u16(),
        )
    });
    stop_probing.send(()).unwrap();
    let probes = prober.join().unwrap();

    let peak_mib = producer.peak_rss_kib() / 1024;
    let slowest = |closes: &[Option<std::time::Duration>]| closes.iter().flatten().max().copied();
    let slowest_probe = probes.iter().map(|(_, took)| *took).max();
    let shed = uploads
        .iter()
        .filter(|status| **status == Some(503))
        .count();
    let timed_out = uploads
        .iter()
        .filter(|status| **status == Some(408))
        .count();
    println!(
        "peak RSS {peak_mib} MiB; heads closed after at most {:?}; pipelined clients cut off \
         after at most {:?}; uploads {shed} shed (503), {timed_out} timed out (408); \
         {} probes, the slowest {slowest_probe:?}",
        slowest(&held),
        slowest(&pipelined),
        probes.len()
    );
    assert!(peak_mib <= 100, "peak RSS {peak_mib} MiB");
    assert!(held.iter().all(Option::is_some), "every head was sent");
    let slowest_head = slowest(&held).unwrap();
    assert!(
        slowest_head < HEADER_TIMEOUT + SLACK,
        "a connection with an unfinished head stayed open {slowest_head:?}"
    );
    assert!(
        pipelined.iter().all(Option::is_some),
        "a client that never reads its answers was never cut off: {pipelined:?}"
    );
    let slowest_pipelined = slowest(&pipelined).unwrap();
    assert!(
        slowest_pipelined < WRITE_TIMEOUT + SLACK,
        "a client that never reads was cut off only after {slowest_pipelined:?}"
    );
    assert_eq!(
        shed + timed_out,
        STALLED_UPLOADS + STALLED_BATCHES,
        "{uploads:?}"
    );
    assert!(timed_out >= 1, "uploads were read, and timed out");
    assert_eq!(oversized, Some(431), "a head over MAX_HEADER_BYTES");
    assert_eq!(order, 201, "the well-behaved client's order");
    assert!(
        probes.len() >= 50,
        "probed throughout: {} probes",
        probes.len()
    );
    assert!(
        probes.iter().all(|(status, _)| *status == 200),
        "{probes:?}"
    );
    let slowest_probe = slowest_probe.unwrap();
    assert!(
        slowest_probe <= Duration::from_millis(100),
        "the slowest probe took {slowest_probe:?}"
    );
    producer.stop();
}

/// POSTs each `(path, body)` at once; returns the answers' bodies.
fn post_at_once(url: &str, requests: Vec<(&'static str, Value)>) -> Vec<(u16, Value)> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let posts = requests.into_iter().map(|(path, body)| {
            let request = client.post(format!("{url}{path}")).json(&body).send();
            async move {
                let response = request.await.expect("answered");
                let status = response.status().as_u16();
                (status, response.json().await.expect("a JSON body"))
            }
        });
        futures::future::join_all(posts).await
    })
}

#[test]
fn with_the_broker_frozen_past_the_delivery_timeout_every_stored_order_was_named_to_its_client() {
    let broker = Broker::start();
    let (mut producer, url) = spawn_producer(&broker.bootstrap, &[("DELIVERY_TIMEOUT_MS", "3000")]);
    producer.wait_for_message("reached Kafka; ready");
    let order = || {
        json!({"customer_id": "cust-1", "currency": "EUR",
        "items": [{"sku": "BOOK-1", "quantity": 1, "unit_price_cents": 1299}]})
    };

    // Frozen, not gone: connections stay open, requests pile up unanswered.
    broker.freeze(1, true);
    let mut requests: Vec<(&str, Value)> = (0..20).map(|_| ("/orders", order())).collect();
    requests.extend((0..4).map(|_| ("/orders/batch", json!({"orders": vec![order(); 5]}))));
    let answers = post_at_once(&url, requests);
    broker.freeze(1, false);

    let mut named = HashSet::new();
    let mut name = |status: u64, body: &Value| {
        assert!(status == 201 || status == 503, "{status}: {body}");
        let id = body["order_id"]
            .as_str()
            .unwrap_or_else(|| panic!("unnamed: {body}"));
        named.insert(id.to_owned());
    };
    for (status, body) in &answers {
        match body["results"].as_array() {
            Some(results) => {
                assert_eq!(*status, 207);
                for result in results {
                    name(result["status"].as_u64().unwrap(), &result["body"]);
                }
            }
            None => name(u64::from(*status), body),
        }
    }
    assert_eq!(named.len(), 40, "40 orders, each named once");

    // Requests on one connection are handled in order, so once an order
    // sent after the thaw is stored, so is whatever the frozen broker held.
    let after = post_at_once(&url, vec![("/orders", order())]);
    assert_eq!(after[0].0, 201, "{:?}", after[0].1);
    let records = test_support::read_all(&broker.internal, "orders");
    for record in &records {
        let key = std::str::from_utf8(record.key().expect("keyed")).unwrap();
        assert!(
            named.contains(key) || after[0].1["order_id"] == key,
            "stored under {key}, an id no client was told"
        );
    }
    println!(
        "{} of 40 orders answered 503 were stored after the thaw",
        records.len() - 1
    );
    producer.stop();
}
