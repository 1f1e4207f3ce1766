//! Every listener that serves TLS, with its reloadable configuration, so
//! that one signal or admin call reloads them all.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Serialize, Serializer};

use super::reloadable::{CertificateSummary, ServerTls};
use super::{TlsError, TlsServerSettings};

/// Which listener a TLS configuration serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsListener {
    /// A channel's source (MLLP or HTTP).
    Channel(String),
    /// The admin API.
    Admin,
}

impl TlsListener {
    /// The name in logs, metrics and the admin API: the channel's name, or
    /// `(admin)`, which no channel can be called.
    pub fn name(&self) -> &str {
        match self {
            TlsListener::Channel(name) => name,
            TlsListener::Admin => "(admin)",
        }
    }

    /// The channel its alerts name: none (engine-wide) for the admin API.
    pub fn alert_channel(&self) -> &str {
        match self {
            TlsListener::Channel(name) => name,
            TlsListener::Admin => "",
        }
    }
}

impl Serialize for TlsListener {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl fmt::Display for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsListener::Channel(name) => write!(f, "channel {name:?}"),
            TlsListener::Admin => f.write_str("the admin API"),
        }
    }
}

/// The TLS configurations of the engine's listeners.
#[derive(Default)]
pub struct TlsListeners {
    listeners: Mutex<Vec<(TlsListener, Arc<ServerTls>)>>,
}

impl TlsListeners {
    /// Loads `settings` for `listener` and keeps it for reloads.
    ///
    /// # Errors
    /// A [`TlsError`] naming the file or setting at fault.
    pub fn load(
        &self,
        listener: TlsListener,
        settings: &TlsServerSettings,
    ) -> Result<Arc<ServerTls>, TlsError> {
        let tls = Arc::new(ServerTls::load(settings)?);
        self.lock().push((listener, tls.clone()));
        Ok(tls)
    }

    /// Every listener with its configuration, in the order loaded.
    pub fn all(&self) -> Vec<(TlsListener, Arc<ServerTls>)> {
        self.lock().clone()
    }

    /// Reloads every listener's files (see [`ServerTls::reload`]); one
    /// that fails keeps its configuration and does not stop the others.
    pub fn reload(&self) -> Vec<TlsReload> {
        self.all()
            .into_iter()
            .map(|(listener, tls)| {
                let (outcome, error) = match tls.reload() {
                    Ok(reloaded) if reloaded.changed => (ReloadOutcome::Reloaded, None),
                    Ok(_) => (ReloadOutcome::Unchanged, None),
                    Err(error) => (ReloadOutcome::Failed, Some(error.to_string())),
                };
                TlsReload {
                    listener,
                    outcome,
                    certificate: tls.certificate(),
                    error,
                }
            })
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(TlsListener, Arc<ServerTls>)>> {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// How one listener's reload went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// The files loaded and hold another certificate than before.
    Reloaded,
    /// The files loaded and hold the same certificate (a client CA may
    /// still have changed).
    Unchanged,
    /// The files did not load; the listener keeps what it had.
    Failed,
}

impl ReloadOutcome {
    /// The outcome's name, as in the admin API and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadOutcome::Reloaded => "reloaded",
            ReloadOutcome::Unchanged => "unchanged",
            ReloadOutcome::Failed => "failed",
        }
    }
}

/// One listener's reload.
#[derive(Debug, Clone, Serialize)]
pub struct TlsReload {
    /// The listener.
    pub listener: TlsListener,
    /// How it went.
    pub outcome: ReloadOutcome,
    /// The certificate the listener presents now (after a failure, the one
    /// it had).
    pub certificate: CertificateSummary,
    /// Why the files did not load.
    pub error: Option<String>,
}
