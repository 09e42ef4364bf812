//! The management port has the public listener's limits: clients that send
//! half a request there can neither hold the process past its shutdown nor
//! keep the probes from answering.

mod common;

use std::time::Instant;

use common::start_service;
use test_support::{MockKafka, SHUTDOWN_BOUND};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_requests_on_the_management_port_do_not_delay_sigterm() {
    let kafka = MockKafka::start();
    let (mut service, _) = start_service(&kafka, &[]);
    let management = service.management_url();
    let addr = management.trim_start_matches("http://");
    let mut halves = Vec::new();
    for _ in 0..5 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nhost: pr")
            .await
            .unwrap();
        halves.push(stream);
    }
    // The probes still answer beside them.
    let ready = reqwest::get(format!("{management}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);

    let stopping = Instant::now();
    let status = service.terminate(SHUTDOWN_BOUND);
    let took = stopping.elapsed();
    println!("exited {took:?} after SIGTERM");
    // Within the documented bound (terminate asserts it): before the
    // management listener had limits, it never exited.
    assert!(status.success(), "exit status {status}");
    drop(halves);
}
