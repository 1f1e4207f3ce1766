//! Connecting to an MLLP listener over TCP or TLS, shared by `send` and
//! `bench`.

use std::path::PathBuf;

use hl7wasm::tls::{Dialer, TlsClientSettings, TlsVersion};

pub use hl7wasm::tls::Stream;

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

impl TlsArgs {
    /// The client TLS settings these arguments ask for; `None` without
    /// `--tls-ca`.
    ///
    /// # Errors
    /// When `--cert` is given without `--tls-ca`.
    pub fn settings(&self) -> anyhow::Result<Option<TlsClientSettings>> {
        match &self.ca_file {
            None => {
                anyhow::ensure!(self.cert_file.is_none(), "--cert needs --tls-ca");
                Ok(None)
            }
            Some(ca_file) => Ok(Some(TlsClientSettings {
                ca_file: ca_file.clone(),
                cert_file: self.cert_file.clone(),
                key_file: self.key_file.clone(),
                server_name: self.server_name.clone(),
                min_version: TlsVersion::default(),
            })),
        }
    }
}

/// A way to open connections to one listener.
#[derive(Clone)]
pub struct Connector {
    dialer: Dialer,
}

impl Connector {
    /// Prepares connections to `address` (`HOST:PORT`).
    ///
    /// # Errors
    /// When the address has no port or the TLS files are unusable.
    pub fn new(address: &str, args: &TlsArgs) -> anyhow::Result<Connector> {
        anyhow::ensure!(address.contains(':'), "{address:?} is not HOST:PORT");
        Ok(Connector {
            dialer: Dialer::new(address, args.settings()?.as_ref())?,
        })
    }

    /// Opens one connection.
    ///
    /// # Errors
    /// When the TCP connection or the TLS handshake fails.
    pub async fn connect(&self) -> anyhow::Result<Box<dyn Stream>> {
        Ok(self.dialer.connect().await?)
    }

    /// Whether connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.dialer.is_tls()
    }
}
