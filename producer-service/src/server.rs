//! The public listener: [`service_kit::http`]'s HTTP/1.1 server with a
//! deep accept queue, and as many connections as the open-file limit
//! allows.

use std::io;
use std::net::SocketAddr;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use tokio::net::TcpListener;

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
    service_kit::http::bind(addr, ACCEPT_QUEUE)
}

/// Open files the process needs besides the public connections: Kafka
/// sockets, the management listener's connections, standard streams.
const OTHER_FILES: u64 = 256;

/// Raises the open-file limit to what `max_connections` needs, up to the
/// hard limit (the soft one is often 1,024), and returns how many
/// connections fit: `max_connections`, or fewer with a warning.
pub fn fit_open_files(max_connections: usize) -> usize {
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
