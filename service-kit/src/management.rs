//! The management listener: `/livez`, `/readyz` and `/metrics` on a port of
//! their own, apart from the public API, so that no client traffic, however
//! heavy or hostile, can delay a probe and make an orchestrator restart a
//! healthy instance. It runs on a thread and runtime of its own, so that not
//! even a runtime busy with the API delays it, and it is the last thing a
//! service stops, so that `/readyz` answers 503 while the service drains.
//!
//! It has the public listener's limits ([`crate::http`]), sized for probes
//! and scrapers: a client that sends half a request can neither hold a
//! connection past [`LIMITS`]' header timeout nor keep the process from
//! exiting, and [`Management::stop`] returns within [`STOP_TIMEOUT`].

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::Readiness;

/// What the management listener allows: a handful of probes and scrapes
/// at once (the next ones wait in the accept queue), each quick.
pub const LIMITS: crate::http::Limits = crate::http::Limits {
    max_connections: 64,
    header_read_timeout: Duration::from_secs(5),
    max_header_bytes: crate::http::MIN_HEADER_BYTES,
    write_timeout: Duration::from_secs(5),
    drain_timeout: Duration::from_secs(5),
};

/// Longest [`Management::stop`] waits for the listener to drain.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(6);

/// Binds the management listener's address.
///
/// # Errors
/// If the address cannot be bound; the message names `MANAGEMENT_ADDR`.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (MANAGEMENT_ADDR)"))
}

/// The running management listener.
pub struct Management {
    stop: oneshot::Sender<()>,
    stopped: oneshot::Receiver<std::io::Result<()>>,
}

impl Management {
    /// Serves the health and metrics endpoints on `listener` until
    /// [`Management::stop`]; logs `management listener up` with its address.
    ///
    /// # Errors
    /// If the listener has no local address or its thread cannot start.
    pub fn start(listener: TcpListener, readiness: Readiness) -> anyhow::Result<Self> {
        let addr = listener
            .local_addr()
            .context("the management listener has no address")?;
        let listener = listener
            .into_std()
            .context("cannot move the management listener to its thread")?;
        crate::metrics::recorder();
        let routes = crate::health::routes(readiness).merge(crate::metrics::routes());
        let (stop, stop_requested) = oneshot::channel::<()>();
        let (done, stopped) = oneshot::channel();
        std::thread::Builder::new()
            .name("management".to_owned())
            .spawn(move || {
                let served = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|runtime| {
                        runtime.block_on(async {
                            let listener = TcpListener::from_std(listener)?;
                            crate::http::serve(listener, routes, LIMITS, async {
                                let _ = stop_requested.await;
                            })
                            .await;
                            Ok(())
                        })
                    });
                let _ = done.send(served);
            })
            .context("cannot start the management listener's thread")?;
        tracing::info!(%addr, "management listener up");
        Ok(Self { stop, stopped })
    }

    /// Stops accepting, lets requests in flight finish, and returns within
    /// [`STOP_TIMEOUT`] whatever the clients do.
    ///
    /// # Errors
    /// If the server failed, or did not stop in time.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(STOP_TIMEOUT, self.stopped)
            .await
            .context("the management listener did not stop in time")?
            .context("the management listener's thread ended early")?
            .context("the management listener failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn status(addr: SocketAddr, path: &str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer[9..12].parse().unwrap()
    }

    #[tokio::test]
    async fn probes_and_metrics_are_served_until_stopped() {
        let readiness = Readiness::default();
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let management = Management::start(listener, readiness.clone()).unwrap();
        assert_eq!(status(addr, "/livez").await, 200);
        assert_eq!(status(addr, "/readyz").await, 503);
        readiness.set_connected(true);
        assert_eq!(status(addr, "/readyz").await, 200);
        assert_eq!(status(addr, "/metrics").await, 200);
        assert_eq!(status(addr, "/orders").await, 404);
        management.stop().await.unwrap();
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn a_half_sent_request_delays_stop_by_at_most_the_header_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let management = Management::start(listener, Readiness::default()).unwrap();
        let mut halves = Vec::new();
        for _ in 0..5 {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"GET /readyz HTTP/1.1\r\nhost: te")
                .await
                .unwrap();
            halves.push(stream);
        }
        // Served: the half-sent requests are in the server's hands.
        assert_eq!(status(addr, "/livez").await, 200);
        // A stop that waited on them would never return: fail instead.
        tokio::time::timeout(STOP_TIMEOUT + Duration::from_secs(1), management.stop())
            .await
            .expect("stop returned in time")
            .unwrap();
        for mut stream in halves {
            let mut rest = Vec::new();
            // Closed by the server, not left open.
            let _ = stream.read_to_end(&mut rest).await;
        }
    }
}
