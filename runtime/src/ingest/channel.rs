//! What every connection of a channel shares.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::ack::AckIds;
use crate::config::ChannelConfig;
use crate::events::TlsHandshakeFailed;
use crate::metrics::Metrics;
use crate::mllp::MllpLimits;
use crate::pipeline::{ChannelControl, ChannelWakers};
use crate::store::Store;
use crate::validation::Profile;

/// A running channel's shared state.
#[derive(Clone)]
pub struct ChannelRuntime {
    /// The channel's name.
    pub name: String,
    /// Its configuration.
    pub config: ChannelConfig,
    /// The conformance profile messages must meet before they are stored.
    pub profile: Option<Arc<Profile>>,
    /// Frame size and time limits.
    pub limits: MllpLimits,
    /// Whether to send MLLP release 2 commit acknowledgements.
    pub mllp_release2: bool,
    /// The durable store.
    pub store: Store,
    /// The engine's metrics.
    pub metrics: Arc<Metrics>,
    /// The channel's wake-up signals: its pipeline workers' when a message
    /// is stored, and the results senders wait for.
    pub signals: Arc<ChannelWakers>,
    /// Control IDs for outgoing ACKs.
    pub ack_ids: Arc<AckIds>,
    /// Running, paused or stopped; the listener closes while stopped.
    pub control: Arc<ChannelControl>,
    /// Cancelled when the engine shuts down, or (for the connections of
    /// one listening period) when the channel stops.
    pub shutdown: CancellationToken,
}

impl ChannelRuntime {
    /// Counts and logs a client's failed TLS handshake on this channel.
    pub fn handshake_failed(&self, peer: SocketAddr, reason: &str) {
        TlsHandshakeFailed {
            channel: &self.name,
            peer,
            reason,
        }
        .emit(&self.metrics);
    }
}
