//! The `healthcheck` subcommand: asks a running instance's `/readyz`, on its
//! management listener, and exits 0 only on `200`, so a container image
//! needs no curl for its `HEALTHCHECK`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// Subcommands every service binary understands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Exit 0 if the service running with the same settings answers
    /// `GET /readyz` with 200 (for container health checks), 1 otherwise.
    Healthcheck,
}

/// Calls `GET /readyz` on the service listening at `addr` (a wildcard
/// address means this host) and reports the result as an exit code.
pub fn check(addr: SocketAddr) -> ExitCode {
    match ready(addr) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("not ready");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("cannot reach {addr}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn ready(mut addr: SocketAddr) -> std::io::Result<bool> {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /readyz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )?;
    let mut status_line = [0u8; 12];
    stream.read_exact(&mut status_line)?;
    Ok(status_line.starts_with(b"HTTP/1.1 200") || status_line.starts_with(b"HTTP/1.0 200"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Readiness;

    #[tokio::test(flavor = "multi_thread")]
    async fn the_check_passes_only_while_the_service_is_ready() {
        let readiness = Readiness::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = crate::health::routes(readiness.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });

        // A wildcard address, as in MANAGEMENT_ADDR=0.0.0.0:PORT, means this host.
        let addr: SocketAddr = ([0, 0, 0, 0], port).into();
        let probe = move || tokio::task::spawn_blocking(move || ready(addr));
        assert!(!probe().await.unwrap().unwrap());
        readiness.set_connected(true);
        assert!(probe().await.unwrap().unwrap());
    }

    #[test]
    fn the_check_fails_when_nothing_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert_eq!(check(addr), ExitCode::FAILURE);
    }
}
