//! [`TlsClientSettings`] and the rustls [`ClientConfig`] for `hl7wasm send`, `bench` and
//! MLLP destinations.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;

use super::{TlsError, TlsVersion, pem, policy};

/// TLS settings of an MLLP client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsClientSettings {
    /// PEM file with the CA certificates trusted to sign the server's certificate.
    pub ca_file: PathBuf,
    /// PEM file with the client certificate for mTLS; needs `key_file`.
    ///
    /// By default no client certificate is presented.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM file with the client's private key; needs `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The name the server's certificate must carry.
    ///
    /// By default this is the host the client connects to.
    #[serde(default)]
    pub server_name: Option<String>,
    /// The lowest TLS version used: "1.2" or "1.3".
    ///
    /// By default this is "1.2".
    #[serde(default)]
    pub min_version: TlsVersion,
}

impl TlsClientSettings {
    /// The name to verify the server against: `server_name`, else `host`.
    ///
    /// # Errors
    ///
    /// [`TlsError::InvalidServerName`] when it is neither a DNS name nor an IP address.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_owned())
            .map_err(|_| TlsError::InvalidServerName(name.to_owned()))
    }
}

/// Builds the client configuration for `settings`.
///
/// # Errors
///
/// A [`TlsError`] naming the file or setting at fault, as for the server.
pub fn client_config(settings: &TlsClientSettings) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = pem::trust_anchors(&settings.ca_file)?;
    let client_cert = client_cert(settings.cert_file.as_deref(), settings.key_file.as_deref())?;
    client_config_with_roots(roots, client_cert, settings.min_version)
}

/// Builds a client configuration that trusts `roots`, presents `client_cert` (chain and
/// key file path) when given, and uses TLS versions from `min_version` up.
///
/// # Errors
///
/// [`TlsError::BadKey`] when the key does not fit the certificate.
pub(crate) fn client_config_with_roots(
    roots: RootCertStore,
    client_cert: Option<ClientCert>,
    min_version: TlsVersion,
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(policy::provider(None)?)
        .with_protocol_versions(min_version.versions())?
        .with_root_certificates(roots);
    let config = match client_cert {
        Some(ClientCert { chain, key, path }) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|source| TlsError::BadKey {
                path,
                cause: source,
            })?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A client certificate chain and its private key, read from PEM files.
pub(crate) struct ClientCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The key file, for errors.
    path: PathBuf,
}

/// Reads the client certificate for mTLS: `None` without either file.
///
/// # Errors
///
/// [`TlsError::IncompleteClientCert`] when only one file is given, and the errors of
/// reading PEM files.
pub(crate) fn client_cert(
    cert_file: Option<&Path>,
    key_file: Option<&Path>,
) -> Result<Option<ClientCert>, TlsError> {
    match (cert_file, key_file) {
        (Some(cert_file), Some(key_file)) => Ok(Some(ClientCert {
            chain: pem::presented_chain(cert_file)?,
            key: pem::private_key(key_file)?,
            path: key_file.to_owned(),
        })),
        (None, None) => Ok(None),
        _ => Err(TlsError::IncompleteClientCert),
    }
}
