//! The engine's TLS files, so that one signal or admin call reloads them
//! all: every listener's configuration (reloaded in place, see
//! [`ServerTls`]) and every destination's client files (checked here; the
//! destination's workers rebuild their connectors when they see their
//! files' generation move, which it does only when the files' contents
//! changed, so that a reload leaves other connections open).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Serialize, Serializer};

use super::reloadable::{CertificateSummary, ServerTls};
use super::{TlsError, TlsServerSettings};

/// Where TLS files are used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsEndpoint {
    /// A channel's source (MLLP or HTTP) listening.
    Channel(String),
    /// The admin API listening.
    Admin,
    /// A channel's destination connecting out (MLLP or HTTPS).
    Destination {
        /// The channel.
        channel: String,
        /// The destination.
        destination: String,
    },
}

impl TlsEndpoint {
    /// The name in logs, metrics and the admin API: the channel's name,
    /// `(admin)`, or `channel/destination`; none of them can be another's.
    pub fn name(&self) -> String {
        match self {
            TlsEndpoint::Channel(name) => name.clone(),
            TlsEndpoint::Admin => "(admin)".into(),
            TlsEndpoint::Destination {
                channel,
                destination,
            } => format!("{channel}/{destination}"),
        }
    }

    /// The channel its alerts name: none (engine-wide) for the admin API.
    pub fn alert_channel(&self) -> &str {
        match self {
            TlsEndpoint::Channel(channel) | TlsEndpoint::Destination { channel, .. } => channel,
            TlsEndpoint::Admin => "",
        }
    }
}

impl Serialize for TlsEndpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl fmt::Display for TlsEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsEndpoint::Channel(name) => write!(f, "channel {name:?}"),
            TlsEndpoint::Admin => f.write_str("the admin API"),
            TlsEndpoint::Destination {
                channel,
                destination,
            } => write!(f, "destination {destination:?} of channel {channel:?}"),
        }
    }
}

/// What a destination's TLS files held at a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientState {
    /// The client certificate's summary; none without one.
    pub certificate: Option<CertificateSummary>,
    /// A digest of every file the destination reads, so that a renewed CA
    /// or key tells from unchanged files.
    pub digest: [u8; 32],
}

/// Reads a destination's TLS files as its connector would, or says why
/// they do not load.
pub type ClientCheck = Box<dyn Fn() -> Result<ClientState, String> + Send + Sync>;

/// A destination's TLS files: how to check them, what they held at the
/// last check that passed, and how often that changed.
struct ClientFiles {
    endpoint: TlsEndpoint,
    check: ClientCheck,
    state: ClientState,
    generation: u64,
}

/// The TLS files of the engine's listeners and destinations.
#[derive(Default)]
pub struct TlsFiles {
    listeners: Mutex<Vec<(TlsEndpoint, Arc<ServerTls>)>>,
    clients: Mutex<Vec<ClientFiles>>,
}

impl TlsFiles {
    /// Loads `settings` for the listener `endpoint` and keeps it for
    /// reloads.
    ///
    /// # Errors
    /// A [`TlsError`] naming the file or setting at fault.
    pub fn load(
        &self,
        endpoint: TlsEndpoint,
        settings: &TlsServerSettings,
    ) -> Result<Arc<ServerTls>, TlsError> {
        let tls = Arc::new(ServerTls::load(settings)?);
        lock(&self.listeners).push((endpoint, tls.clone()));
        Ok(tls)
    }

    /// Keeps a destination's files for reloads and expiry checks, after a
    /// first `check`.
    ///
    /// # Errors
    /// Why the files do not load.
    pub fn add_client(&self, endpoint: TlsEndpoint, check: ClientCheck) -> Result<(), String> {
        let state = check()?;
        lock(&self.clients).push(ClientFiles {
            endpoint,
            check,
            state,
            generation: 0,
        });
        Ok(())
    }

    /// How often the files of destination `endpoint` changed in a reload;
    /// its workers rebuild their connectors when it moves.
    pub fn client_generation(&self, endpoint: &TlsEndpoint) -> u64 {
        let clients = lock(&self.clients);
        let client = clients.iter().find(|c| c.endpoint == *endpoint);
        client.map_or(0, |c| c.generation)
    }

    /// Forgets the listener and destinations of `channel` (one that
    /// stopped).
    pub fn remove_channel(&self, channel: &str) {
        lock(&self.listeners).retain(
            |(endpoint, _)| !matches!(endpoint, TlsEndpoint::Channel(name) if name == channel),
        );
        lock(&self.clients).retain(|client| {
            !matches!(&client.endpoint, TlsEndpoint::Destination { channel: name, .. } if name == channel)
        });
    }

    /// Every listener with its configuration, in the order loaded.
    pub fn listeners(&self) -> Vec<(TlsEndpoint, Arc<ServerTls>)> {
        lock(&self.listeners).clone()
    }

    /// Every certificate the engine presents: each listener's, then each
    /// destination's client certificate as last checked.
    pub fn certificates(&self) -> Vec<(TlsEndpoint, CertificateSummary)> {
        let listeners = self.listeners().into_iter();
        let mut all: Vec<_> = listeners
            .map(|(endpoint, tls)| (endpoint, tls.certificate()))
            .collect();
        all.extend(lock(&self.clients).iter().filter_map(|client| {
            let certificate = client.state.certificate.clone()?;
            Some((client.endpoint.clone(), certificate))
        }));
        all
    }

    /// Reloads every listener's files (see [`ServerTls::reload`]) and checks
    /// every destination's; one that fails keeps what it had and does not
    /// stop the others. A destination whose files' contents changed moves
    /// to its next generation, so that its workers pick them up.
    pub fn reload(&self) -> Vec<TlsReload> {
        let mut reloads: Vec<TlsReload> = self
            .listeners()
            .into_iter()
            .map(|(endpoint, tls)| {
                let (outcome, error) = match tls.reload() {
                    Ok(changed) => (ReloadOutcome::loaded(changed), None),
                    Err(error) => (ReloadOutcome::Failed, Some(error.to_string())),
                };
                TlsReload {
                    endpoint,
                    outcome,
                    certificate: Some(tls.certificate()),
                    error,
                }
            })
            .collect();
        for client in lock(&self.clients).iter_mut() {
            let (outcome, error) = match (client.check)() {
                Ok(state) => {
                    let changed = state.certificate != client.state.certificate;
                    if state.digest != client.state.digest {
                        client.generation += 1;
                    }
                    client.state = state;
                    (ReloadOutcome::loaded(changed), None)
                }
                Err(error) => (ReloadOutcome::Failed, Some(error)),
            };
            reloads.push(TlsReload {
                endpoint: client.endpoint.clone(),
                outcome,
                certificate: client.state.certificate.clone(),
                error,
            });
        }
        reloads
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How one reload went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// The files loaded and hold another certificate than before.
    Reloaded,
    /// The files loaded and hold the same certificate (a CA may still have
    /// changed).
    Unchanged,
    /// The files did not load; the endpoint keeps what it had.
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

    fn loaded(changed: bool) -> Self {
        match changed {
            true => ReloadOutcome::Reloaded,
            false => ReloadOutcome::Unchanged,
        }
    }
}

/// One endpoint's reload.
#[derive(Debug, Clone, Serialize)]
pub struct TlsReload {
    /// The listener or destination.
    pub endpoint: TlsEndpoint,
    /// How it went.
    pub outcome: ReloadOutcome,
    /// The certificate it presents now (after a failure, the one it had);
    /// none for a destination without a client certificate.
    pub certificate: Option<CertificateSummary>,
    /// Why the files did not load.
    pub error: Option<String>,
}
