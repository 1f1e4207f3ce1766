//! A listener's TLS configuration that can be read again from its files
//! while the listener runs, so that a renewed certificate (or client CA)
//! takes effect without a restart. New connections get the configuration
//! current when they arrive; open connections keep the one they shook hands
//! with. A reload that fails leaves the previous configuration in place.

use std::path::Path;
use std::sync::{PoisonError, RwLock};

use rustls_pki_types::CertificateDer;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::server::server_config_and_leaf;
use super::{TlsError, TlsServerSettings, pem};

/// A certificate the engine presents: a listener's, or a destination's
/// client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateSummary {
    /// The subject, such as `CN=hl7wasm`.
    pub subject: String,
    /// The end of its validity, in seconds since the Unix epoch.
    pub not_after_unix: i64,
    /// The SHA-256 of its DER encoding, in lowercase hex.
    pub sha256: String,
}

impl CertificateSummary {
    /// The summary of the first certificate in the PEM file `path` (the
    /// leaf, before any intermediates).
    ///
    /// # Errors
    /// A [`TlsError`] naming the file: unreadable, no certificate, or not
    /// X.509.
    pub fn of_file(path: &Path) -> Result<Self, TlsError> {
        let chain = pem::certificates(path)?;
        CertificateSummary::of(&chain[0], path)
    }

    /// The summary of the certificate `der`, read from `path`.
    ///
    /// # Errors
    /// [`TlsError::BadCertificate`] when it is not X.509.
    fn of(der: &CertificateDer<'_>, path: &Path) -> Result<Self, TlsError> {
        let (_, certificate) =
            X509Certificate::from_der(der).map_err(|error| TlsError::BadCertificate {
                path: path.to_path_buf(),
                reason: error.to_string(),
            })?;
        Ok(CertificateSummary {
            subject: certificate.subject().to_string(),
            not_after_unix: certificate.validity().not_after.timestamp(),
            sha256: hex::encode(Sha256::digest(der)),
        })
    }
}

/// A listener's TLS settings and the configuration last loaded from them.
pub struct ServerTls {
    settings: TlsServerSettings,
    current: RwLock<Loaded>,
}

#[derive(Clone)]
struct Loaded {
    acceptor: TlsAcceptor,
    certificate: CertificateSummary,
}

impl ServerTls {
    /// Loads `settings`.
    ///
    /// # Errors
    /// A [`TlsError`] naming the file or setting at fault.
    pub fn load(settings: &TlsServerSettings) -> Result<ServerTls, TlsError> {
        Ok(ServerTls {
            settings: settings.clone(),
            current: RwLock::new(load(settings)?),
        })
    }

    /// The acceptor for a connection arriving now.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.read().acceptor.clone()
    }

    /// The certificate presented now.
    pub fn certificate(&self) -> CertificateSummary {
        self.read().certificate.clone()
    }

    /// Reads the certificate, key and client CA files again and, when they
    /// make a working configuration, serves new connections with it;
    /// answers whether the certificate changed.
    ///
    /// # Errors
    /// A [`TlsError`] naming the file at fault; the previous configuration
    /// stays in use.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let loaded = load(&self.settings)?;
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let changed = current.certificate.sha256 != loaded.certificate.sha256;
        *current = loaded;
        Ok(changed)
    }

    fn read(&self) -> Loaded {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn load(settings: &TlsServerSettings) -> Result<Loaded, TlsError> {
    let (config, leaf) = server_config_and_leaf(settings)?;
    Ok(Loaded {
        acceptor: TlsAcceptor::from(config),
        certificate: CertificateSummary::of(&leaf, &settings.cert_file)?,
    })
}
