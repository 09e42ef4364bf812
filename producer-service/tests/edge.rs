//! The HTTP edge under many slow clients: beyond `MAX_IN_FLIGHT_ORDERS`,
//! an order is refused with 503 before its body is read, so 2,000 clients
//! uploading slowly at once leave memory bounded and the management
//! endpoints answering. The service runs as a child process so that its
//! resident memory can be read from `/proc`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use test_support::{Exposition, MockKafka, ServiceProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const UPLOADS: usize = 2_000;
const LIMIT: usize = 100;
/// Body bytes each client sends before it stalls, of the 64,000 it announces.
const SENT: usize = 60_000;

/// An upload the way careful clients send large bodies: the headers with
/// `Expect: 100-continue`, then, once the server asks for it, `SENT` bytes
/// of the body, and then nothing more. Returns the final answer's head (a
/// client that was asked for its body never gets one).
async fn slow_upload(addr: SocketAddr) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let head = "POST /orders HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
                content-length: 64000\r\nexpect: 100-continue\r\n\r\n";
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let answer = read_head(&mut stream).await?;
    if !answer.starts_with("HTTP/1.1 100") {
        return Ok(answer);
    }
    stream
        .write_all(&[b' '; SENT])
        .await
        .map_err(|e| e.to_string())?;
    read_head(&mut stream).await
}

async fn read_head(stream: &mut TcpStream) -> Result<String, String> {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(0) => return Err("closed without an answer".to_owned()),
            Ok(_) => head.push(byte[0]),
            Err(error) => return Err(error.to_string()),
        }
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_slow_uploads_are_shed_before_their_bodies_are_read() {
    let kafka = MockKafka::start();
    let limit = LIMIT.to_string();
    let mut service = ServiceProcess::spawn(
        env!("CARGO_BIN_EXE_producer-service"),
        &[],
        &[
            ("KAFKA_BROKERS", &kafka.bootstrap),
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("MANAGEMENT_ADDR", "127.0.0.1:0"),
            ("MAX_IN_FLIGHT_ORDERS", &limit),
            ("MAX_BODY_BYTES", "65536"),
            ("REQUEST_TIMEOUT_MS", "120000"),
        ],
    );
    let listening = service.wait_for_message("producer-service listening");
    let addr: SocketAddr = listening["addr"].as_str().unwrap().parse().unwrap();
    let management = service.management_url();
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{management}{path}")).send();
    assert_eq!(get("/livez").await.unwrap().status(), 200);
    let before = service.rss_kib();

    let (answers, mut answered) = mpsc::unbounded_channel();
    let mut uploads = tokio::task::JoinSet::new();
    for _ in 0..UPLOADS {
        let answers = answers.clone();
        uploads.spawn(async move {
            let _ = answers.send(slow_upload(addr).await);
        });
    }
    // Every upload beyond the limit is answered at once, without being asked
    // for its body; the others are asked for it, and wait for the rest.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut heads = Vec::new();
    while heads.len() < UPLOADS - LIMIT {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, answered.recv()).await {
            Ok(Some(head)) => heads.push(head),
            _ => panic!(
                "{} of {} uploads beyond the limit answered",
                heads.len(),
                UPLOADS - LIMIT
            ),
        }
    }
    for head in &heads {
        let head = head
            .as_ref()
            .unwrap_or_else(|error| panic!("no answer: {error}"));
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        assert!(head.contains("retry-after: 1\r\n"), "{head}");
        assert!(head.contains("application/problem+json"), "{head}");
    }

    // Meanwhile the service answers its operational endpoints.
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let metrics = get("/metrics").await.unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = Exposition::parse(&metrics.text().await.unwrap()).unwrap();
    let in_flight = metrics.value("http_requests_in_flight", &[]);
    assert_eq!(in_flight, Some(LIMIT as f64), "the limit");
    let shed = metrics.value("orders_published_total", &[("result", "rejected")]);
    assert_eq!(shed, Some((UPLOADS - LIMIT) as f64));

    // Buffered bodies are those of the requests within the limit, about
    // LIMIT × SENT = 6 MB; 2,000 buffered bodies would be 120 MB.
    let during = service.rss_kib();
    let grown_mib = during.saturating_sub(before) / 1024;
    println!(
        "RSS {} MiB before, {} MiB with {UPLOADS} slow uploads ({LIMIT} in flight): +{grown_mib} MiB",
        before / 1024,
        during / 1024
    );
    assert!(grown_mib < 64, "RSS grew by {grown_mib} MiB");

    uploads.abort_all();
    service.stop();
}
