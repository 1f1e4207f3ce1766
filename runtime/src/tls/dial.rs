//! [`Dialer`]: opening client connections to an MLLP listener over TCP or TLS, for
//! `hl7wasm send`, `bench` and MLLP destinations.

use std::io;
use std::time::Duration;

use rustls_pki_types::ServerName;
use socket2::{SockRef, TcpKeepalive};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{TlsClientSettings, TlsError, client_config};

/// A byte stream to a listener: plain TCP or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Why a connection could not be opened.
#[derive(Debug, Error)]
pub enum DialError {
    /// The TCP connection failed (refused, unreachable, unknown host).
    #[error("cannot connect to {address}: {cause}")]
    Connect {
        /// The address dialled.
        address: String,
        /// What went wrong.
        cause: io::Error,
    },
    /// The TCP connection opened but the TLS handshake failed.
    #[error("TLS handshake with {address} failed: {cause}")]
    Handshake {
        /// The address dialled.
        address: String,
        /// What went wrong.
        cause: io::Error,
    },
}

/// A way to open connections to one `HOST:PORT`, with TLS when configured.
#[derive(Clone)]
pub struct Dialer {
    address: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    keepalive: Option<Duration>,
}

impl Dialer {
    /// Prepares connections to `address` (`HOST:PORT`, the host in brackets for IPv6),
    /// over TLS when `tls` is given. The server name to verify defaults to the host.
    ///
    /// # Errors
    ///
    /// A [`TlsError`] when the TLS files are unusable or the server name is invalid.
    pub fn new(address: &str, tls: Option<&TlsClientSettings>) -> Result<Dialer, TlsError> {
        let tls = match tls {
            None => None,
            Some(settings) => {
                let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
                let name =
                    settings.server_name(host.trim_start_matches('[').trim_end_matches(']'))?;
                Some((TlsConnector::from(client_config(settings)?), name))
            }
        };
        Ok(Dialer {
            address: address.to_owned(),
            tls,
            keepalive: None,
        })
    }

    /// Sends TCP keepalive probes on each connection once it has been
    /// silent for `idle` (then every `idle` / 4, given up after four
    /// unanswered), so that a firewall keeps an idle connection's state and
    /// a peer that vanished is noticed before the next message is sent.
    pub fn with_keepalive(mut self, idle: Duration) -> Dialer {
        self.keepalive = Some(idle);
        self
    }

    /// Opens one connection, with `TCP_NODELAY` set.
    ///
    /// # Errors
    ///
    /// [`DialError::Connect`] or [`DialError::Handshake`].
    pub async fn connect(&self) -> Result<Box<dyn Stream>, DialError> {
        let address = || self.address.clone();
        let tcp = self
            .connect_tcp()
            .await
            .map_err(|source| DialError::Connect {
                address: address(),
                cause: source,
            })?;
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|source| DialError::Handshake {
                        address: address(),
                        cause: source,
                    })?;
                Ok(Box::new(stream))
            }
        }
    }

    /// The TCP connection, with `TCP_NODELAY` and the keepalive set.
    async fn connect_tcp(&self) -> io::Result<TcpStream> {
        let tcp = TcpStream::connect(&self.address).await?;
        tcp.set_nodelay(true)?;
        if let Some(idle) = self.keepalive {
            let probes = TcpKeepalive::new()
                .with_time(idle)
                .with_interval((idle / 4).max(Duration::from_secs(1)))
                .with_retries(4);
            SockRef::from(&tcp).set_tcp_keepalive(&probes)?;
        }
        Ok(tcp)
    }

    /// The address dialled.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Whether connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keepalive_is_set_when_asked_for() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let plain = Dialer::new(&address, None).unwrap();
        let tcp = plain.connect_tcp().await.unwrap();
        assert!(!SockRef::from(&tcp).keepalive().unwrap());

        let probing = plain.with_keepalive(Duration::from_secs(60));
        let tcp = probing.connect_tcp().await.unwrap();
        let socket = SockRef::from(&tcp);
        assert!(socket.keepalive().unwrap());
        assert_eq!(
            socket.tcp_keepalive_time().unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(
            socket.tcp_keepalive_interval().unwrap(),
            Duration::from_secs(15)
        );
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), 4);
        assert!(socket.tcp_nodelay().unwrap());
    }
}
