//! The management listener: `/livez`, `/readyz` and `/metrics` on a port of
//! their own, apart from the public API, so that no client traffic, however
//! heavy or hostile, can delay a probe and make an orchestrator restart a
//! healthy instance. It runs on a thread and runtime of its own, so that not
//! even a runtime busy with the API delays it, and it is the last thing a
//! service stops, so that `/readyz` answers 503 while the service drains.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::Readiness;

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
                            axum::serve(TcpListener::from_std(listener)?, routes)
                                .with_graceful_shutdown(async {
                                    let _ = stop_requested.await;
                                })
                                .await
                        })
                    });
                let _ = done.send(served);
            })
            .context("cannot start the management listener's thread")?;
        tracing::info!(%addr, "management listener up");
        Ok(Self { stop, stopped })
    }

    /// Stops accepting, lets requests in flight finish, and returns.
    ///
    /// # Errors
    /// If the server failed.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.stopped
            .await
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
}
