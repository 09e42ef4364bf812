//! The HTTP/1.1 accept loop both listeners use (the public API and the
//! management port), with the limits that keep slow, idle and hostile
//! clients from exhausting a service: `axum::serve` offers none of them.
//!
//! - At most [`Limits::max_connections`] connections are open at once; the
//!   next ones wait in the kernel's accept queue, costing the process
//!   nothing.
//! - A request's head (request line and headers) may take at most
//!   [`Limits::header_read_timeout`] to arrive, idle time between requests
//!   included, and may be at most [`Limits::max_header_bytes`] long (431
//!   beyond). hyper's own per-connection buffer is bounded by the same
//!   figure, so a connection holds at most about that much of the client's
//!   bytes, pipelined requests included.
//! - A write that the client does not take (it pipelines requests and never
//!   reads the answers) may stay blocked at most [`Limits::write_timeout`];
//!   then the connection is closed ([`deadline`]).
//! - Shutdown stops accepting, lets requests in flight finish, and gives up
//!   on the connections still open after [`Limits::drain_timeout`], so that
//!   no client can keep the process from exiting.

mod deadline;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;

use deadline::WriteDeadline;

/// The smallest head limit hyper accepts: its read buffer starts at 8 KiB.
pub const MIN_HEADER_BYTES: usize = 8 * 1024;

/// What a listener allows its clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Longest wait for a request's head, idle time included.
    pub header_read_timeout: Duration,
    /// Largest request head, and the most hyper buffers for one connection
    /// (at least [`MIN_HEADER_BYTES`]).
    pub max_header_bytes: usize,
    /// Longest a write may wait for the client to take the bytes.
    pub write_timeout: Duration,
    /// Longest shutdown waits for requests in flight.
    pub drain_timeout: Duration,
}

/// Binds `addr` with an accept queue of `backlog` connections (the kernel
/// caps it at `net.core.somaxconn`).
///
/// # Errors
/// If the address cannot be bound.
pub fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std's and tokio's own bind do: a restarted service can bind again
    // while connections of its predecessor linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Serves `app` on `listener` until `shutdown` completes; then stops
/// accepting, lets every request in flight finish (closing idle
/// connections at once) for at most [`Limits::drain_timeout`], and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let max_buf = limits.max_header_bytes.max(MIN_HEADER_BYTES);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(max_buf)
        .max_buf_size(max_buf);
    let service = TowerToHyperService::new(app);
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free slot first: until one is, connections wait in the accept
        // queue instead of in this process's memory.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&connections).acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        let io = TokioIo::new(WriteDeadline::new(stream, limits.write_timeout));
        let connection = graceful.watch(http.serve_connection(io, service.clone()));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client that went away, or a timeout: routine.
                tracing::debug!(%error, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        // Their tasks end with the runtime, which closes the sockets.
        tracing::warn!(
            open = limits
                .max_connections
                .saturating_sub(connections.available_permits()),
            "connections still open after the drain timeout; closing them"
        );
    }
}

/// After a failed accept: a connection that failed before it was accepted
/// is the client's business; anything else (out of file descriptors, say)
/// may last, so wait a second rather than spin, as hyper's servers do.
async fn accept_failed(error: &io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept a connection; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
