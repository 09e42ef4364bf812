//! Helpers shared by the producer's test files: the service on port 0
//! against a mock cluster, and problem-document assertions.

#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::Parser;
use producer_service::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::load::Outcome;
use test_support::{MockKafka, Report, ServiceProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestApp {
    /// The public API.
    pub addr: SocketAddr,
    /// Probes and metrics.
    pub management: SocketAddr,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    pub async fn spawn(kafka: &MockKafka, extra: &[&str]) -> Self {
        let mut args = vec!["producer-service", "--kafka-brokers", &kafka.bootstrap];
        args.extend_from_slice(extra);
        let config = Config::try_parse_from(args).expect("test config parses");
        let listeners = producer_service::Listeners {
            api: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            management: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let addr = listeners.api.local_addr().unwrap();
        let management = listeners.management.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(producer_service::serve(listeners, config, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            management,
            client: reqwest::Client::new(),
            stop: Some(stop),
            server,
        }
    }

    /// From now on, every request of `client` carries `Bearer token`.
    pub fn authorize(&mut self, token: &str) {
        let mut headers = reqwest::header::HeaderMap::new();
        let value = format!("Bearer {token}").parse().unwrap();
        headers.insert(reqwest::header::AUTHORIZATION, value);
        self.client = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap();
    }

    /// `path` on the public API.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `path` on the management listener.
    pub fn management_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.management)
    }

    pub async fn post_order(&self, body: &Value) -> reqwest::Response {
        self.post_json("/orders", body).await
    }

    pub async fn post_batch(&self, body: &Value) -> reqwest::Response {
        self.post_json("/orders/batch", body).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_raw(
        &self,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url("/orders")).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send().await.expect("request sent")
    }

    /// `GET path` on the management listener.
    pub async fn get_management(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.management_url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let response = self.client.get(self.management_url("/readyz")).send().await;
            if response.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("producer-service never became ready");
    }

    pub async fn shut_down(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(15), self.server)
            .await
            .expect("shutdown finishes")
            .expect("server task")
            .expect("server exits cleanly");
    }
}

/// Sends the headers and the first bytes of a 100-byte order body, then
/// stalls, as a slow or stuck client would. `headers` are extra header lines.
pub async fn stalled_upload(addr: SocketAddr, headers: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /orders HTTP/1.1\r\nhost: test\r\n{headers}\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"customer_id\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Everything the server sends on `stream` until it closes the connection.
pub async fn read_answer(mut stream: TcpStream) -> String {
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

pub fn valid_order() -> Value {
    json!({
        "customer_id": "cust-42",
        "currency": "EUR",
        "items": [
            {"sku": "BOOK-1", "quantity": 2, "unit_price_cents": 1299},
            {"sku": "PEN-7", "quantity": 1, "unit_price_cents": 250}
        ]
    })
}

pub async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["title"].is_string());
    body
}

/// Counts the records in `topic` on a blocking thread, off the runtime the service runs on.
pub async fn count_records(kafka: &MockKafka, topic: &'static str) -> i64 {
    let bootstrap = kafka.bootstrap.clone();
    tokio::task::spawn_blocking(move || test_support::count(&bootstrap, topic))
        .await
        .unwrap()
}

/// Runs `workers` clients against the app until `stop` is set.
pub async fn load_until(app: &TestApp, workers: usize, stop: Arc<AtomicBool>) -> Vec<Outcome> {
    test_support::load::run_until(&app.url("/orders"), workers, stop).await
}

/// Compares the 201 answers with every record of the orders topic.
pub async fn check_topic(kafka: &MockKafka, outcomes: &[Outcome]) -> Report {
    let bootstrap = kafka.bootstrap.clone();
    let outcomes = outcomes.to_vec();
    tokio::task::spawn_blocking(move || {
        test_support::load::check_topic(&bootstrap, "orders", &outcomes)
    })
    .await
    .expect("checker")
}

/// Starts the service binary against `kafka` with `env` besides the
/// addresses; returns it, ready, and its API's base URL.
pub fn start_service(kafka: &MockKafka, env: &[(&str, &str)]) -> (ServiceProcess, String) {
    let mut all = vec![
        ("KAFKA_BROKERS", kafka.bootstrap.as_str()),
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("MANAGEMENT_ADDR", "127.0.0.1:0"),
    ];
    all.extend_from_slice(env);
    let mut service = ServiceProcess::spawn(env!("CARGO_BIN_EXE_producer-service"), &[], &all);
    let listening = service.wait_for_message("producer-service listening");
    let api = format!("http://{}", listening["addr"].as_str().unwrap());
    service.wait_for_message("reached Kafka; ready");
    (service, api)
}
