//! Connecting to an MLLP listener over TCP or TLS, shared by `send` and
//! `bench`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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

/// Whether `target` names an HTTP source (an `http://` or `https://` URL)
/// rather than an MLLP listener.
pub fn is_http(target: &str) -> bool {
    target.starts_with("http://") || target.starts_with("https://")
}

/// The TLS settings of HTTP source clients, as `args` ask for them: no
/// trusted roots without `--tls-ca`, so only plain HTTP then.
///
/// # Errors
/// When the TLS files are unusable.
pub fn http_tls(args: &TlsArgs) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    tls_or_plain(args.settings()?.as_ref())
}

/// An HTTP client's TLS configuration: from `settings`, or, without them,
/// one that trusts no server, for plain `http://` only.
///
/// # Errors
/// When the TLS files are unusable.
pub fn tls_or_plain(
    settings: Option<&TlsClientSettings>,
) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    Ok(match settings {
        Some(settings) => hl7wasm::tls::client_config(settings)?,
        None => Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        ),
    })
}

/// A client of an HTTP source that keeps at most one idle connection: one
/// sender, one connection.
///
/// # Errors
/// When the client cannot be built.
pub fn http_client(
    tls: &rustls::ClientConfig,
    timeout: Duration,
) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls.clone())
        .pool_max_idle_per_host(1)
        .timeout(timeout)
        .build()?)
}

/// Posts one message to an HTTP source (with `token` as its bearer token,
/// when the source asks for one) and returns the ACK in the response.
///
/// # Errors
/// When the request fails or the source answers with another status than
/// 200 (the error gives the status and the source's text).
pub async fn post_message(
    client: &reqwest::Client,
    url: &str,
    message: Vec<u8>,
    token: Option<&str>,
) -> anyhow::Result<bytes::Bytes> {
    let mut request = client
        .post(url)
        .header("content-type", "x-application/hl7-v2+er7")
        .body(message);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    anyhow::ensure!(
        status.is_success(),
        "HTTP {status}: {}",
        response.text().await.unwrap_or_default().trim()
    );
    Ok(response.bytes().await?)
}
