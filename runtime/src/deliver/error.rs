//! [`ConnectorError`]: why a destination's connector could not be built from its config.

use thiserror::Error;

use crate::tls::TlsError;

/// Why a connector could not be built; each names the setting at fault.
#[derive(Debug, Error)]
pub enum ConnectorError {
    /// A `channel` target has no connector: the store hands the message to that channel.
    #[error("a destination to channel {0:?} is delivered by the store, not by a connector")]
    ChannelTarget(String),
    /// A TLS file or setting is unusable.
    #[error("tls: {0}")]
    Tls(TlsError),
    /// An MLLP `address` that is not `HOST:PORT`.
    #[error("address {0:?} is not HOST:PORT (for example \"lab.example.org:2575\")")]
    InvalidAddress(String),
    /// A timeout of zero seconds, which would fail every attempt.
    #[error("{0} must be at least 1 second")]
    ZeroTimeout(&'static str),
    /// An HTTP `url` that does not parse, or is not http:// or https://.
    #[error("url {url:?} is invalid: {reason}")]
    InvalidUrl {
        /// The configured URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An HTTP `method` that is not a method token.
    #[error("method {0:?} is not an HTTP method (for example \"POST\" or \"PUT\")")]
    InvalidMethod(String),
    /// A header name or value that cannot be sent.
    #[error("header {0:?} has an invalid name or value")]
    InvalidHeader(String),
    /// Credentials that cannot be sent in an `Authorization` header.
    #[error("bearer_token or basic_auth holds characters that cannot be sent in a header")]
    InvalidCredentials,
    /// More than one of `bearer_token`, `basic_auth` and `oauth`.
    #[error("bearer_token, basic_auth and oauth exclude each other: give one")]
    ConflictingAuth,
    /// An `oauth` table whose `client_auth` and credentials do not match.
    #[error("oauth: {0}")]
    OAuthCredentials(&'static str),
    /// The `oauth.private_key_file` cannot sign client assertions.
    #[error("oauth.private_key_file {path}: {reason}")]
    OAuthKey {
        /// The key file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `tls` settings for a plain http:// URL.
    #[error("tls is set but url {0:?} is not https://")]
    TlsWithoutHttps(String),
    /// The system's trust store could not be read, and no `ca_file` was given.
    #[error("cannot load the system's CA certificates ({0}): set tls.ca_file")]
    NoSystemRoots(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(reqwest::Error),
    /// A file name pattern that is not valid.
    #[error("file_name {pattern:?} is invalid: {reason}")]
    FileName {
        /// The configured pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}

// By hand rather than `#[from]`: the message holds the cause's text, so the
// cause is not also its `source()`, which would print it twice in a chain.
impl From<TlsError> for ConnectorError {
    fn from(error: TlsError) -> Self {
        ConnectorError::Tls(error)
    }
}
