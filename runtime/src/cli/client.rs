//! Connecting to an MLLP listener over TCP or TLS, shared by `send` and
//! `bench`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use hl7wasm::tls::{self, TlsClientSettings, TlsVersion};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A byte stream to a listener: plain TCP or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// TLS options of the client commands.
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// Use TLS, trusting the CA certificates in this PEM file.
    #[arg(long = "tls-ca", value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mTLS; needs --key.
    #[arg(long = "cert", value_name = "FILE", requires = "key_file")]
    cert_file: Option<PathBuf>,
    /// Client private key (PEM) for mTLS.
    #[arg(long = "key", value_name = "FILE", requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// The server name to verify, when it differs from HOST.
    #[arg(long = "server-name", value_name = "NAME")]
    server_name: Option<String>,
}

/// A way to open connections to one listener.
#[derive(Clone)]
pub struct Connector {
    address: String,
    tls: Option<(TlsConnector, rustls_pki_types::ServerName<'static>)>,
}

impl Connector {
    /// Prepares connections to `address` (`HOST:PORT`).
    ///
    /// # Errors
    /// When the address has no port or the TLS files are unusable.
    pub fn new(address: &str, args: &TlsArgs) -> anyhow::Result<Connector> {
        let (host, _) = address
            .rsplit_once(':')
            .with_context(|| format!("{address:?} is not HOST:PORT"))?;
        let tls = match &args.ca_file {
            None => {
                anyhow::ensure!(args.cert_file.is_none(), "--cert needs --tls-ca");
                None
            }
            Some(ca_file) => {
                let settings = TlsClientSettings {
                    ca_file: ca_file.clone(),
                    cert_file: args.cert_file.clone(),
                    key_file: args.key_file.clone(),
                    server_name: args.server_name.clone(),
                    min_version: TlsVersion::default(),
                };
                let config: Arc<rustls::ClientConfig> = tls::client_config(&settings)?;
                let name =
                    settings.server_name(host.trim_start_matches('[').trim_end_matches(']'))?;
                Some((TlsConnector::from(config), name))
            }
        };
        Ok(Connector {
            address: address.to_string(),
            tls,
        })
    }

    /// Opens one connection.
    ///
    /// # Errors
    /// When the TCP connection or the TLS handshake fails.
    pub async fn connect(&self) -> anyhow::Result<Box<dyn Stream>> {
        let tcp = TcpStream::connect(&self.address)
            .await
            .with_context(|| format!("cannot connect to {}", self.address))?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .with_context(|| format!("TLS handshake with {} failed", self.address))?;
                Ok(Box::new(stream))
            }
        }
    }

    /// Whether connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}
