//! [`TlsServerSettings`] and the rustls [`ServerConfig`] a listener accepts with.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::CertificateDer;
use serde::Deserialize;

use super::{TlsError, TlsVersion, pem, policy, verifier};

/// TLS settings of an MLLP listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerSettings {
    /// PEM file with the server certificate, followed by any intermediates.
    pub cert_file: PathBuf,
    /// PEM file with the server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// The lowest TLS version accepted: "1.2" or "1.3".
    ///
    /// By default this is "1.2". Older versions are never accepted.
    #[serde(default)]
    pub min_version: TlsVersion,
    /// The cipher suites offered, by rustls name, in order of preference.
    ///
    /// By default all of rustls's ring suites for the allowed versions are offered.
    #[serde(default)]
    pub cipher_suites: Option<Vec<String>>,
    /// PEM file with the CA certificates that sign client certificates; turns on mTLS.
    ///
    /// By default no client certificate is asked for.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// Client names allowed to connect, matched against the certificate's subject CN and
    /// its DNS and URI subject alternative names, ignoring ASCII case.
    ///
    /// By default (empty) any certificate signed by `client_ca_file` is allowed.
    #[serde(default)]
    pub allowed_clients: Vec<String>,
}

/// Builds the server configuration for `settings`.
///
/// # Errors
///
/// A [`TlsError`] naming the file or setting at fault: a missing or unreadable file, a
/// PEM file without a certificate or key, a key that does not match the certificate, an
/// unknown cipher suite, or suites that do not fit `min_version`.
pub fn server_config(settings: &TlsServerSettings) -> Result<Arc<ServerConfig>, TlsError> {
    server_config_and_leaf(settings).map(|(config, _)| config)
}

/// Builds the server configuration for `settings`, and gives the leaf
/// certificate it presents (the first in `cert_file`).
///
/// # Errors
///
/// As [`server_config`].
pub(super) fn server_config_and_leaf(
    settings: &TlsServerSettings,
) -> Result<(Arc<ServerConfig>, CertificateDer<'static>), TlsError> {
    let provider = policy::provider(settings.cipher_suites.as_deref())?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(settings.min_version.versions())?;
    let builder = match &settings.client_ca_file {
        Some(ca_file) => builder.with_client_cert_verifier(verifier::client_verifier(
            ca_file,
            &settings.allowed_clients,
            provider,
        )?),
        None if !settings.allowed_clients.is_empty() => return Err(TlsError::AllowListWithoutCa),
        None => builder.with_no_client_auth(),
    };
    let chain = pem::presented_chain(&settings.cert_file)?;
    let key = pem::private_key(&settings.key_file)?;
    let leaf = chain[0].clone();
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|source| TlsError::BadKey {
            path: settings.key_file.clone(),
            cause: source,
        })?;
    config.ignore_client_order = true;
    Ok((Arc::new(config), leaf))
}
