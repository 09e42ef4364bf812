//! The public edge under pressure, with producer-service's default limits:
//! slow and idle clients cannot exhaust its memory or its probes, and when
//! Kafka stops answering every order that reached the producer is named in
//! its answer, so that whatever the broker stored later can be matched.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e_tests::{Broker, spawn_producer, start_producer_with};
use rdkafka::Message;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SLOW_HEADERS: usize = 2_000;
const STALLED_UPLOADS: usize = 2_000;
/// The default `HEADER_READ_TIMEOUT_MS`.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Peak resident memory (`VmHWM`) of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/pid/status")
}

/// Half a request head, then nothing: returns how long the server took to
/// close the connection (`None` if it could not connect). `connected` is
/// told once the head is sent.
async fn slow_headers(
    api: SocketAddr,
    connected: tokio::sync::mpsc::Sender<()>,
) -> Option<Duration> {
    let mut stream = TcpStream::connect(api).await.ok()?;
    let opened = Instant::now();
    stream
        .write_all(b"POST /orders HTTP/1.1\r\nhost: test\r\ncontent-type: appli")
        .await
        .ok()?;
    let _ = connected.send(()).await;
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    Some(opened.elapsed())
}

/// A whole head announcing 16,000 bytes, 15,000 of them, then nothing;
/// returns the status of the answer (shed at once, or timed out), if any.
async fn stalled_upload(api: SocketAddr) -> Option<u16> {
    let mut stream = TcpStream::connect(api).await.ok()?;
    let head = "POST /orders HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
                content-length: 16000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(&[b' '; 15_000]).await.ok()?;
    // The head of the answer only: the rest of the body is never sent, so
    // the connection need not close after it.
    let mut answer = Vec::new();
    let mut byte = [0];
    while !answer.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        answer.push(byte[0]);
    }
    std::str::from_utf8(&answer[9..12]).ok()?.parse().ok()
}

/// `GET /readyz` over a new connection, as a kubelet probes, on a thread of
/// its own so that the clients' runtime does not delay it; until `stop`.
fn probe_until(
    management: SocketAddr,
    stop: std::sync::mpsc::Receiver<()>,
) -> Vec<(u16, Duration)> {
    let mut probes = Vec::new();
    while stop.recv_timeout(Duration::from_millis(100)).is_err() {
        let started = Instant::now();
        let mut stream = std::net::TcpStream::connect(management).unwrap();
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nhost: probe\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        probes.push((answer[9..12].parse().unwrap(), started.elapsed()));
    }
    probes
}

#[test]
fn slow_and_idle_clients_can_exhaust_neither_memory_nor_the_probes() {
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
    let (closed_after, uploads, order) = runtime.block_on(async {
        let (connected, mut heads_sent) = tokio::sync::mpsc::channel(SLOW_HEADERS);
        let slow: Vec<_> = (0..SLOW_HEADERS)
            .map(|_| tokio::spawn(slow_headers(api, connected.clone())))
            .collect();
        // The slow clients take their places first (2,000 of the 2,048
        // MAX_CONNECTIONS); the uploads come while they hold them.
        for _ in 0..SLOW_HEADERS {
            heads_sent.recv().await.expect("every slow client connects");
        }
        let stalled: Vec<_> = (0..STALLED_UPLOADS)
            .map(|_| tokio::spawn(stalled_upload(api)))
            .collect();
        let mut closed_after = Vec::new();
        for client in slow {
            closed_after.extend(client.await.unwrap());
        }
        let mut uploads = Vec::new();
        for client in stalled {
            uploads.push(client.await.unwrap());
        }
        // Then a well-behaved client is served.
        let order = json!({"customer_id": "cust-1", "currency": "EUR",
            "items": [{"sku": "BOOK-1", "quantity": 1, "unit_price_cents": 1299}]});
        let answer = reqwest::Client::new()
            .post(format!("{url}/orders"))
            .json(&order)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .expect("a well-behaved client is answered");
        (closed_after, uploads, answer.status().as_u16())
    });
    stop_probing.send(()).unwrap();
    let probes = prober.join().unwrap();

    let peak_mib = peak_rss_kib(producer.pid()) / 1024;
    let slowest_close = closed_after.iter().max().copied().unwrap_or_default();
    let slowest_probe = probes
        .iter()
        .map(|(_, took)| *took)
        .max()
        .unwrap_or_default();
    println!(
        "peak RSS {peak_mib} MiB; {} slow-header connections closed after at most {slowest_close:?}; \
         {} probes, the slowest {slowest_probe:?}",
        closed_after.len(),
        probes.len()
    );
    let shed = uploads
        .iter()
        .filter(|status| **status == Some(503))
        .count();
    let timed_out = uploads
        .iter()
        .filter(|status| **status == Some(408))
        .count();
    println!("stalled uploads: {shed} shed (503), {timed_out} timed out (408)");
    // Those beyond MAX_CONNECTIONS waited in the accept queue, then were
    // answered like the others.
    assert_eq!(shed + timed_out, STALLED_UPLOADS, "{uploads:?}");
    assert!(
        timed_out >= 1024,
        "MAX_IN_FLIGHT_ORDERS of them were read, and timed out"
    );
    assert_eq!(order, 201, "the well-behaved client's order");
    assert_eq!(
        closed_after.len(),
        SLOW_HEADERS,
        "every slow client was accepted"
    );
    assert!(
        slowest_close < HEADER_TIMEOUT + Duration::from_secs(5),
        "a slow-header connection stayed open {slowest_close:?}"
    );
    assert!(peak_mib <= 100, "peak RSS {peak_mib} MiB");
    assert!(
        probes.len() >= 50,
        "probed throughout: {} probes",
        probes.len()
    );
    assert!(
        probes.iter().all(|(status, _)| *status == 200),
        "{probes:?}"
    );
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
