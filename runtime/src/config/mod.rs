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
//! [channels.source.tls]        # optional
//! cert_file = "server.pem"
//! key_file = "server.key"
//! ```
//!
//! Loading reports errors with the file, the channel and the key.

mod channel;
mod load;

pub use channel::{AckMode, ChannelConfig, SourceConfig};
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
#[serde(default)]
pub struct StorageConfig {
    /// The directory of the sled database. By default `./data/store`.
    pub dir: PathBuf,
    /// Tuning of the store.
    #[serde(flatten)]
    pub settings: StoreSettings,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            dir: PathBuf::from("./data/store"),
            settings: StoreSettings::default(),
        }
    }
}
