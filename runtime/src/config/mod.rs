//! The engine's configuration: one TOML file, readable in review and
//! diffable in git, with an embedded default that serves a demo.
//!
//! ```toml
//! [storage]
//! dir = "./data/store"
//! dedupe_window_secs = 86400   # resends within this window are ACKed, not stored again
//!
//! [[channels]]
//! name = "adt"
//! ack_mode = "commit"          # commit (default) | none
//! partition_by = "PID-3.1"     # optional; with `partitions`
//! partitions = 8
//!
//! [channels.source]
//! type = "mllp"
//! listen = "0.0.0.0:2575"
//! max_connections = 256
//! mllp_release2 = false
//! [channels.source.limits]     # optional
//! max_message_bytes = 1048576
//! idle_timeout_secs = 60
//! frame_timeout_secs = 30
//! [channels.source.tls]        # optional
//! cert_file = "server.pem"
//! key_file = "server.key"
//! ```
//!
//! Loading reports errors with the file, the channel and the key.

mod channel;
mod load;

pub use channel::{AckMode, ChannelConfig, MllpSourceConfig, SourceConfig};
pub use load::{ConfigError, load_file, parse};

use std::path::PathBuf;

use serde::Deserialize;

use crate::store::StoreSettings;

/// The embedded default: one MLLP channel on port 2575, stored under ./data.
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where and how messages are stored.
    #[serde(default)]
    pub storage: StorageConfig,
    /// The channels, each with its own source and settings.
    pub channels: Vec<ChannelConfig>,
}

/// The `[storage]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// The directory of the sled database. By default `./data/store`.
    pub dir: PathBuf,
    /// A resend of the same MSH-3/MSH-4/MSH-10 within this many seconds is
    /// ACKed again but not stored or processed twice. By default 86400 (24 h).
    pub dedupe_window_secs: u64,
    /// Memory sled may use to cache pages. By default 64 MiB.
    pub cache_capacity_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        let defaults = StoreSettings::default();
        StorageConfig {
            dir: PathBuf::from("./data/store"),
            dedupe_window_secs: defaults.dedupe_window_secs,
            cache_capacity_bytes: defaults.cache_capacity_bytes,
        }
    }
}

impl StorageConfig {
    /// The store settings this section asks for.
    pub fn store_settings(&self) -> StoreSettings {
        StoreSettings {
            dedupe_window_secs: self.dedupe_window_secs,
            cache_capacity_bytes: self.cache_capacity_bytes,
        }
    }
}
