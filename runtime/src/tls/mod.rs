//! TLS for the engine's listeners (MLLP, HTTP sources, the admin API) and
//! clients: rustls configurations built from the settings in a channel's
//! config, and the peer identity that goes to the audit log.
//!
//! Policy, whatever the settings say:
//!
//! - The ring provider, TLS 1.3 and 1.2 only. `min_version` chooses between them; "1.1"
//!   and older are refused when the config is read.
//! - `cipher_suites` narrows the provider's suites by their rustls names
//!   (`TLS13_AES_256_GCM_SHA384`, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`); an unknown
//!   name is a config error that names it.
//! - mTLS: with `client_ca_file` a client must present a certificate signed by that CA.
//!   `allowed_clients` is then checked inside the certificate verifier, during the
//!   handshake: a client that is not allowed fails the handshake with a TLS alert (and is
//!   counted as a handshake failure), so no message byte is ever read from it. An empty
//!   list allows any certificate the CA signed.
//! - Reloads: every listener's and destination's files can be read again
//!   while the engine runs ([`TlsFiles::reload`]; `serve` does it on SIGHUP,
//!   the admin API on `POST /api/v1/tls/reload`). New connections get the
//!   new certificate, open ones keep theirs, and files that do not load
//!   leave the old configuration in place.

mod client;
mod dial;
mod files;
mod identity;
mod pem;
mod policy;
mod reloadable;
mod server;
mod verifier;

use std::io;
use std::path::PathBuf;

use thiserror::Error;

pub use client::{TlsClientSettings, client_config};
pub(crate) use client::{client_cert, client_config_with_roots};
pub use dial::{DialError, Dialer, Stream};
pub use files::{ClientCheck, ClientState, ReloadOutcome, TlsEndpoint, TlsFiles, TlsReload};
pub use identity::{PeerIdentity, check_allowed, peer_identity, protocol_version};
pub(crate) use pem::trust_anchors;
pub use policy::TlsVersion;
pub use reloadable::{CertificateSummary, ServerTls};
pub use server::{TlsServerSettings, server_config};

/// Why a TLS configuration could not be built.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        cause: io::Error,
    },
    /// A PEM file is malformed.
    #[error("{path} is not valid PEM: {cause}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        cause: rustls_pki_types::pem::Error,
    },
    /// A certificate file holds no certificate.
    #[error("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A key file holds no private key.
    #[error("{path} holds no PEM private key")]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// A certificate file holds something that is not an X.509 certificate.
    #[error("{path} holds a certificate that does not parse: {reason}")]
    BadCertificate {
        /// The certificate file.
        path: PathBuf,
        /// What the parser found wrong.
        reason: String,
    },
    /// A certificate to present is older than X.509 v3, which TLS needs.
    #[error(
        "{path} holds an X.509 v{version} certificate and TLS needs v3: sign it with \
         extensions (with `openssl x509 -req`, add -extfile naming at least subjectAltName)"
    )]
    OldCertificate {
        /// The certificate file.
        path: PathBuf,
        /// Its version, 1 or 2.
        version: u32,
    },
    /// The private key is unusable or does not match the certificate.
    #[error("the key in {path} cannot be used with its certificate: {cause}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What rustls found wrong.
        cause: rustls::Error,
    },
    /// A CA file holds a certificate that cannot be a trust anchor.
    #[error("{path} holds a certificate that cannot be a trust anchor: {cause}")]
    BadCa {
        /// The CA file.
        path: PathBuf,
        /// What rustls found wrong.
        cause: rustls::Error,
    },
    /// The client certificate verifier could not be built from the CA file.
    #[error("cannot verify client certificates with {path}: {cause}")]
    ClientVerifier {
        /// The CA file.
        path: PathBuf,
        /// What went wrong.
        cause: rustls::server::VerifierBuilderError,
    },
    /// A TLS version below 1.2, or not a version at all.
    #[error("TLS version {0:?} is not supported: min_version must be \"1.2\" or \"1.3\"")]
    UnsupportedVersion(String),
    /// A cipher suite name rustls does not know.
    #[error("unknown cipher suite {0:?}: use a rustls name such as TLS13_AES_256_GCM_SHA384")]
    UnknownCipherSuite(String),
    /// `allowed_clients` was given without `client_ca_file`.
    #[error(
        "allowed_clients needs client_ca_file: without a client CA no client certificate is asked for"
    )]
    AllowListWithoutCa,
    /// Only one of a client's `cert_file` and `key_file` was given.
    #[error("cert_file and key_file go together: give both for mTLS, or neither")]
    IncompleteClientCert,
    /// A server name that is neither a DNS name nor an IP address.
    #[error("invalid server name {0:?}")]
    InvalidServerName(String),
    /// The settings do not combine into a working configuration (for example, only
    /// TLS 1.2 cipher suites with `min_version = "1.3"`).
    #[error("invalid TLS settings: {0}")]
    Rustls(rustls::Error),
}

// By hand rather than `#[from]`: the message holds the cause's text, so the
// cause is not also its `source()`, which would print it twice in a chain.
impl From<rustls::Error> for TlsError {
    fn from(error: rustls::Error) -> Self {
        TlsError::Rustls(error)
    }
}
