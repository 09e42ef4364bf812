//! How producer-service's memory grows with idle keep-alive connections:
//! each connection makes one request, then stays open and silent, as the
//! connections of a load balancer or of many idle clients do.

use anyhow::{Context, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::service::Service;

/// Opens connections to `addr` up to each count of `steps` and reads the
/// service's resident memory at each: (open connections, KiB), starting
/// with none. The connections close when this returns.
pub async fn idle_connections_rss(
    service: &Service,
    addr: &str,
    steps: &[usize],
) -> anyhow::Result<Vec<(usize, u64)>> {
    let mut open = Vec::with_capacity(steps.iter().copied().max().unwrap_or(0));
    let mut points = vec![(0, service.rss_kib()?)];
    for &count in steps {
        while open.len() < count {
            open.push(
                one_request(addr)
                    .await
                    .with_context(|| format!("connection {}", open.len() + 1))?,
            );
        }
        points.push((count, service.rss_kib()?));
    }
    Ok(points)
}

/// A keep-alive connection that has made one request: a `GET` of a path
/// the API does not have (the probes are on the management listener), whose
/// small problem document is answered in one segment on loopback.
async fn one_request(addr: &str) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /idle HTTP/1.1\r\nhost: bench\r\n\r\n")
        .await?;
    let mut answer = [0_u8; 1024];
    let read = stream.read(&mut answer).await?;
    ensure!(
        answer[..read].starts_with(b"HTTP/1.1 404"),
        "GET /idle answered {:?}",
        String::from_utf8_lossy(&answer[..read.min(40)])
    );
    Ok(stream)
}
