//! The mTLS client certificate verifier: the CA's signature, then the allow-list.
//!
//! The allow-list is checked here, during the handshake, rather than by the listener
//! after it: a client that is not allowed gets an `access_denied` alert and the
//! handshake fails, so a not-allowed client can never send a message.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

use super::{PeerIdentity, TlsError, check_allowed, pem};

/// A verifier requiring a client certificate signed by the CAs in `ca_file` and, when
/// `allowed` is not empty, named in it.
pub(super) fn client_verifier(
    ca_file: &Path,
    allowed: &[String],
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let roots = Arc::new(pem::trust_anchors(ca_file)?);
    let signed_by_ca = WebPkiClientVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|source| TlsError::ClientVerifier {
            path: ca_file.into(),
            cause: source,
        })?;
    if allowed.is_empty() {
        return Ok(signed_by_ca);
    }
    Ok(Arc::new(AllowListVerifier {
        signed_by_ca,
        allowed: allowed.to_vec(),
    }))
}

/// Web PKI verification followed by the allow-list.
#[derive(Debug)]
struct AllowListVerifier {
    signed_by_ca: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for AllowListVerifier {
    fn offer_client_auth(&self) -> bool {
        self.signed_by_ca.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.signed_by_ca.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.signed_by_ca.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self
            .signed_by_ca
            .verify_client_cert(end_entity, intermediates, now)?;
        match PeerIdentity::from_der(end_entity) {
            Some(identity) if check_allowed(&identity, &self.allowed) => Ok(verified),
            _ => Err(Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signed_by_ca.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signed_by_ca.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signed_by_ca.supported_verify_schemes()
    }
}
