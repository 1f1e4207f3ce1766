//! [`TlsClientSettings`] and the rustls [`ClientConfig`] for `hl7wasm send`, `bench` and
//! MLLP destinations.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
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
    let builder = ClientConfig::builder_with_provider(policy::provider(None)?)
        .with_protocol_versions(settings.min_version.versions())?
        .with_root_certificates(roots);
    let config = match (&settings.cert_file, &settings.key_file) {
        (Some(cert_file), Some(key_file)) => builder
            .with_client_auth_cert(pem::certificates(cert_file)?, pem::private_key(key_file)?)
            .map_err(|source| TlsError::BadKey {
                path: key_file.clone(),
                source,
            })?,
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsError::IncompleteClientCert),
    };
    Ok(Arc::new(config))
}
