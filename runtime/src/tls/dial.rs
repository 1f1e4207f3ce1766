//! [`Dialer`]: opening client connections to an MLLP listener over TCP or TLS, for
//! `hl7wasm send`, `bench` and MLLP destinations.

use std::io;

use rustls_pki_types::ServerName;
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
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// The address dialled.
        address: String,
        /// What went wrong.
        source: io::Error,
    },
    /// The TCP connection opened but the TLS handshake failed.
    #[error("TLS handshake with {address} failed: {source}")]
    Handshake {
        /// The address dialled.
        address: String,
        /// What went wrong.
        source: io::Error,
    },
}

/// A way to open connections to one `HOST:PORT`, with TLS when configured.
#[derive(Clone)]
pub struct Dialer {
    address: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
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
        })
    }

    /// Opens one connection, with `TCP_NODELAY` set.
    ///
    /// # Errors
    ///
    /// [`DialError::Connect`] or [`DialError::Handshake`].
    pub async fn connect(&self) -> Result<Box<dyn Stream>, DialError> {
        let address = || self.address.clone();
        let tcp = TcpStream::connect(&self.address)
            .await
            .and_then(|tcp| tcp.set_nodelay(true).map(|()| tcp))
            .map_err(|source| DialError::Connect {
                address: address(),
                source,
            })?;
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|source| DialError::Handshake {
                        address: address(),
                        source,
                    })?;
                Ok(Box::new(stream))
            }
        }
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
