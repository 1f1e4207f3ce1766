//! Why the store could not do what was asked.

use thiserror::Error;

/// A store operation that failed, in the two ways a caller branches on.
#[derive(Debug, Clone, Error)]
pub enum StoreError {
    /// Storage cannot take or give data now: the disk is full, the directory
    /// is unwritable, an fsync failed, or the database is being reopened after
    /// such a failure. Nothing was acknowledged as durable, so the caller
    /// answers AE and the sender retries; the store reopens itself once
    /// storage works again.
    #[error("message store unavailable: {reason}")]
    Unavailable {
        /// What failed, for the log and the AE's error text (no message data).
        reason: String,
    },
    /// A stored record cannot be decoded: the data on disk is damaged or was
    /// written by an incompatible version.
    #[error("stored record {key} is corrupt: {reason}")]
    Corrupt {
        /// The record's key, printable.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl StoreError {
    /// An [`StoreError::Unavailable`] with this reason.
    pub(crate) fn unavailable(reason: impl Into<String>) -> Self {
        StoreError::Unavailable {
            reason: reason.into(),
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        StoreError::unavailable(error.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        StoreError::unavailable(error.to_string())
    }
}
