//! One channel's settings.

use std::net::SocketAddr;

use serde::Deserialize;

use crate::mllp::MllpLimits;
use crate::tls::TlsServerSettings;

/// When the sender gets its ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AckMode {
    /// AA only once the message is durable on disk (the default).
    #[default]
    Commit,
    /// Store the message but send no ACK.
    None,
}

/// Where a channel's messages come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceConfig {
    /// An MLLP listener over TCP, optionally TLS.
    Mllp(MllpSourceConfig),
}

/// An MLLP listener's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MllpSourceConfig {
    /// The address to listen on, for example `0.0.0.0:2575`.
    pub listen: String,
    /// TLS (and optionally mTLS) for this listener.
    pub tls: Option<TlsServerSettings>,
    /// The most connections served at once; more wait in the accept queue.
    /// By default 256.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Send MLLP release 2 commit acknowledgements (a `<VT><ACK><FS><CR>`
    /// block once the message is durable). By default off.
    #[serde(default)]
    pub mllp_release2: bool,
    /// Size and time limits on frames.
    #[serde(default)]
    pub limits: MllpLimits,
}

impl MllpSourceConfig {
    /// The listen address, parsed.
    ///
    /// # Errors
    /// When `listen` is not `IP:PORT`.
    pub fn listen_address(&self) -> Result<SocketAddr, String> {
        self.listen
            .parse()
            .map_err(|e| format!("{:?} is not an IP:PORT address ({e})", self.listen))
    }
}

fn default_max_connections() -> usize {
    256
}

/// One channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// A unique name: letters, digits, `-` and `_`.
    pub name: String,
    /// When the sender gets its ACK.
    #[serde(default)]
    pub ack_mode: AckMode,
    /// A field path (for example `PID-3.1`) whose value picks the partition;
    /// order is kept within a partition. By default the whole channel is one
    /// partition.
    pub partition_by: Option<String>,
    /// How many partitions `partition_by` hashes into. By default 1.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// Where messages come from.
    pub source: SourceConfig,
}

fn default_partitions() -> u32 {
    1
}

impl ChannelConfig {
    /// The partition of a message: the hash of its `partition_by` value
    /// modulo `partitions`, or 0.
    pub fn partition_of(&self, message: &hl7v2::Message<'_>) -> u32 {
        let Some(path) = &self.partition_by else {
            return 0;
        };
        if self.partitions <= 1 {
            return 0;
        }
        let key = message.get(path).unwrap_or_default();
        // FNV-1a: stable across runs and releases, unlike std's hasher.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (hash % u64::from(self.partitions)) as u32
    }
}
