//! The protocol versions and cipher suites a configuration may use.

use std::sync::Arc;

use rustls::SupportedProtocolVersion;
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::{self, ALL_CIPHER_SUITES};
use serde::Deserialize;

use super::TlsError;

static TLS12_AND_13: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The lowest TLS version a peer may use; TLS 1.3 is always allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3, written "1.2". The default.
    #[default]
    Tls12,
    /// TLS 1.3 only, written "1.3".
    Tls13,
}

impl TryFrom<String> for TlsVersion {
    type Error = TlsError;

    fn try_from(text: String) -> Result<Self, TlsError> {
        match text.as_str() {
            "1.2" => Ok(TlsVersion::Tls12),
            "1.3" => Ok(TlsVersion::Tls13),
            _ => Err(TlsError::UnsupportedVersion(text)),
        }
    }
}

impl TlsVersion {
    /// The rustls versions from this one up.
    pub(super) fn versions(self) -> &'static [&'static SupportedProtocolVersion] {
        match self {
            TlsVersion::Tls12 => TLS12_AND_13,
            TlsVersion::Tls13 => TLS13_ONLY,
        }
    }
}

/// The ring provider, narrowed to `cipher_suites` when given (in the order given).
pub(super) fn provider(cipher_suites: Option<&[String]>) -> Result<Arc<CryptoProvider>, TlsError> {
    let mut provider = ring::default_provider();
    if let Some(names) = cipher_suites {
        provider.cipher_suites = names
            .iter()
            .map(|name| {
                ALL_CIPHER_SUITES
                    .iter()
                    .find(|s| s.suite().as_str() == Some(name.as_str()))
                    .copied()
                    .ok_or_else(|| TlsError::UnknownCipherSuite(name.clone()))
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(Arc::new(provider))
}
