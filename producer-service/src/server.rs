//! The public listener: HTTP/1.1 for the API, with the limits that keep
//! slow and idle clients from exhausting it. At most `MAX_CONNECTIONS`
//! connections are open at once (the next ones wait in the kernel's accept
//! queue, costing the service nothing), and a connection that takes longer
//! than `HEADER_READ_TIMEOUT_MS` to send a request's headers, whether it
//! trickles them (slowloris) or sits idle between requests, is closed.
//! `axum::serve` offers neither, so this is its accept loop with them.

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
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;

/// Connections the kernel queues for the listener beyond those served
/// (`MAX_CONNECTIONS`); it caps this at `net.core.somaxconn`. Tokio's
/// default, 1,024, drops the handshakes of a burst larger than that, and
/// those clients wait for their SYN to be retried.
const ACCEPT_QUEUE: u32 = 4096;

/// Binds the public listener, with a deep accept queue.
///
/// # Errors
/// If the address cannot be bound.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std's and tokio's own bind do: a restarted service can bind again
    // while connections of its predecessor linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_QUEUE)
}

/// Open files the process needs besides the public connections: Kafka
/// sockets, the management listener's connections, standard streams.
const OTHER_FILES: u64 = 256;

/// What the public listener allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Longest wait for a request's headers, idle time included.
    pub header_read_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes; then stops
/// accepting, lets every request in flight finish (closing idle
/// connections at once) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = fit_open_files(limits.max_connections);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let service = TowerToHyperService::new(app);
    let connections = Arc::new(Semaphore::new(max_connections));
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
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client that went away, or the header timeout: routine.
                tracing::debug!(%error, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
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

/// Raises the open-file limit to what `max_connections` needs, up to the
/// hard limit (the soft one is often 1,024), and returns how many
/// connections fit: `max_connections`, or fewer with a warning.
fn fit_open_files(max_connections: usize) -> usize {
    let needed = max_connections as u64 + OTHER_FILES;
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return max_connections;
    };
    if soft < needed {
        let raised = needed.min(hard);
        if let Err(error) = setrlimit(Resource::RLIMIT_NOFILE, raised, hard) {
            tracing::warn!(%error, "cannot raise the open-file limit");
        }
    }
    let limit = getrlimit(Resource::RLIMIT_NOFILE).map_or(soft, |(soft, _)| soft);
    if limit >= needed {
        return max_connections;
    }
    let fits = usize::try_from(limit.saturating_sub(OTHER_FILES).max(1)).unwrap_or(usize::MAX);
    tracing::warn!(
        max_connections,
        open_file_limit = limit,
        serving = fits,
        "MAX_CONNECTIONS does not fit the open-file limit (ulimit -n); serving fewer connections"
    );
    fits
}
