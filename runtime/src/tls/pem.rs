//! Certificates, keys and trust anchors read from PEM files, with errors that name the file.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use x509_parser::prelude::{FromDer, X509Certificate, X509Version};

use super::TlsError;

/// Every certificate in `path`, in file order (leaf first, then intermediates).
pub(super) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = read(path)?;
    let certificates = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| pem_error(path, source))?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate { path: path.into() });
    }
    Ok(certificates)
}

/// The certificate chain in `path` that an endpoint presents: as
/// [`certificates`], with a leaf that is an X.509 v3 certificate. TLS needs
/// v3, and rustls refuses an older one with an error that does not say so;
/// `openssl x509 -req` makes a v1 certificate unless given extensions.
pub(super) fn presented_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = certificates(path)?;
    let (_, leaf) =
        X509Certificate::from_der(&chain[0]).map_err(|error| TlsError::BadCertificate {
            path: path.into(),
            reason: error.to_string(),
        })?;
    let version = leaf.version();
    if version != X509Version::V3 {
        return Err(TlsError::OldCertificate {
            path: path.into(),
            version: version.0 + 1,
        });
    }
    Ok(chain)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in `path`.
pub(super) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(&read(path)?).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey { path: path.into() },
        source => pem_error(path, source),
    })
}

/// The certificates in `path` as trust anchors.
pub(crate) fn trust_anchors(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(path)? {
        roots.add(certificate).map_err(|source| TlsError::BadCa {
            path: path.into(),
            cause: source,
        })?;
    }
    Ok(roots)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.into(),
        cause: source,
    })
}

fn pem_error(path: &Path, source: pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.into(),
        cause: source,
    }
}
