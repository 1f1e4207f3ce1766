//! Why a plugin file was refused.

use thiserror::Error;

/// A plugin that cannot be loaded, with the reason an administrator needs.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The bytes are not a WebAssembly component (a core module, or junk).
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// The component targets a version of the plugin contract this host
    /// does not implement.
    #[error(
        "plugin built for {found}, but this host implements hl7wasm:plugin@{supported}; rebuild it against a {supported_major} release"
    )]
    UnsupportedVersion {
        /// The package version the component uses.
        found: String,
        /// The version this host implements.
        supported: &'static str,
        /// The compatible range, for example `0.1.x`.
        supported_major: String,
    },
    /// The component does not implement the `plugin` world.
    #[error("does not implement the hl7wasm:plugin world: {0}")]
    WrongWorld(String),
    /// It imports something the host does not provide.
    #[error("imports something the host does not provide: {0}")]
    UnsatisfiedImport(String),
    /// `info` trapped, timed out or returned nonsense.
    #[error("info() failed: {0}")]
    InfoFailed(String),
    /// Signed plugins are required and this one does not pass.
    #[error("refused: {0}")]
    Signature(super::signature::SignatureError),
    /// Reading the file failed.
    #[error("cannot read {path}: {cause}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        cause: std::io::Error,
    },
}

// By hand rather than `#[from]`: the message holds the cause's text, so the
// cause is not also its `source()`, which would print it twice in a chain.
impl From<super::signature::SignatureError> for LoadError {
    fn from(error: super::signature::SignatureError) -> Self {
        LoadError::Signature(error)
    }
}
