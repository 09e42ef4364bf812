//! The clients that try producer-service's edge: each does the worst thing
//! its kind of client can do within the limits, and reports how the server
//! ended it.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc::Sender;

/// How long the server took to close the connection, counted from when the
/// client had sent all it would.
async fn closed_after(mut stream: TcpStream, sent: Instant) -> Duration {
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    sent.elapsed()
}

/// A request head of `bytes` bytes, less its blank line: header lines of
/// padding after the request line.
pub fn head_of(bytes: usize) -> Vec<u8> {
    let mut head = b"POST /orders HTTP/1.1\r\nhost: test\r\n".to_vec();
    let mut n = 0;
    while head.len() < bytes {
        let line = format!("x-pad-{n:05}: {}\r\n", "a".repeat(100));
        head.extend_from_slice(line.as_bytes());
        n += 1;
    }
    head.truncate(bytes);
    head
}

/// Sends `head` quickly and never the blank line that ends it; returns how
/// long the server took to close the connection. `sent` is told once the
/// head is out.
pub async fn big_headers(api: SocketAddr, head: Vec<u8>, sent: Sender<()>) -> Option<Duration> {
    let mut stream = TcpStream::connect(api).await.ok()?;
    stream.write_all(&head).await.ok()?;
    let at = Instant::now();
    let _ = sent.send(()).await;
    Some(closed_after(stream, at).await)
}

/// Sends half a request head, then nothing; returns how long the server
/// took to close the connection.
pub async fn slow_headers(api: SocketAddr, sent: Sender<()>) -> Option<Duration> {
    let mut stream = TcpStream::connect(api).await.ok()?;
    stream
        .write_all(b"POST /orders HTTP/1.1\r\nhost: test\r\ncontent-type: appli")
        .await
        .ok()?;
    let at = Instant::now();
    let _ = sent.send(()).await;
    Some(closed_after(stream, at).await)
}

/// Sends a head over `limit` bytes; returns the status of the answer.
pub async fn oversized_head(api: SocketAddr, limit: usize) -> Option<u16> {
    let mut stream = TcpStream::connect(api).await.ok()?;
    // The server may answer and close before all is sent.
    let _ = stream.write_all(&head_of(limit + 1024)).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    std::str::from_utf8(answer.get(9..12)?).ok()?.parse().ok()
}

/// Pipelines `GET /openapi.json` requests and never reads an answer, with
/// a small receive window so that the server's writes block soon; returns
/// how long the server took to cut it off once its requests stopped
/// getting through, or `None` if it was never cut off within `give_up`.
pub async fn pipelined_unread(api: SocketAddr, give_up: Duration) -> Option<Duration> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.set_recv_buffer_size(4096).ok()?;
    let mut stream = socket.connect(api).await.ok()?;
    let requests = b"GET /openapi.json HTTP/1.1\r\nhost: test\r\n\r\n".repeat(100);
    let (mut at, started) = (0, Instant::now());
    let mut last_progress = started;
    while started.elapsed() < give_up {
        // A write that takes nothing for a second means the server stopped
        // reading: it is blocked writing answers nobody reads.
        match tokio::time::timeout(Duration::from_secs(1), stream.write(&requests[at..])).await {
            Ok(Ok(0) | Err(_)) => return Some(last_progress.elapsed()),
            Ok(Ok(n)) => {
                at = (at + n) % requests.len();
                last_progress = Instant::now();
            }
            Err(_) => {}
        }
    }
    None
}

/// A whole head announcing a body of `length` bytes to `path`, all of it
/// but the last 1,000 bytes, then nothing; returns the status of the
/// answer (shed at once, or timed out).
pub async fn stalled_upload(api: SocketAddr, path: &str, length: usize) -> Option<u16> {
    let mut stream = TcpStream::connect(api).await.ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(&vec![b' '; length - 1000]).await.ok()?;
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
pub fn probe_until(
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
