//! The rustls configuration of an HTTP destination: the configured CA or the system's
//! trust store, and an optional client certificate.

use reqwest::Url;
use rustls::{ClientConfig, RootCertStore};

use super::HttpTlsSettings;
use crate::deliver::ConnectorError;
use crate::tls::{TlsVersion, client_cert, client_config_with_roots, trust_anchors};

/// The client configuration for `url`.
///
/// An `http://` URL gets a configuration that trusts nothing, since it never makes a
/// TLS connection (redirects are not followed); `tls` settings there are an error.
///
/// # Errors
///
/// [`ConnectorError::TlsWithoutHttps`], [`ConnectorError::NoSystemRoots`] and
/// [`ConnectorError::Tls`].
pub(super) fn client_config(
    url: &Url,
    tls: Option<&HttpTlsSettings>,
) -> Result<ClientConfig, ConnectorError> {
    let (roots, client_cert, min_version) = match (url.scheme(), tls) {
        ("https", Some(settings)) => (
            match &settings.ca_file {
                Some(ca_file) => trust_anchors(ca_file)?,
                None => system_roots()?,
            },
            client_cert(settings.cert_file.as_deref(), settings.key_file.as_deref())?,
            settings.min_version,
        ),
        ("https", None) => (system_roots()?, None, TlsVersion::default()),
        (_, Some(_)) => return Err(ConnectorError::TlsWithoutHttps(url.to_string())),
        (_, None) => (RootCertStore::empty(), None, TlsVersion::default()),
    };
    let config = client_config_with_roots(roots, client_cert, min_version)?;
    Ok(std::sync::Arc::unwrap_or_clone(config))
}

/// The CA certificates of the system's trust store.
fn system_roots() -> Result<RootCertStore, ConnectorError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(ConnectorError::NoSystemRoots(match errors.is_empty() {
            true => "none found".to_owned(),
            false => errors.join("; "),
        }));
    }
    Ok(roots)
}
