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
//!
//!
//! [[channels.pipeline]]        # plugins, in order
//! plugin = "hl7-to-fhir"
//! config = { bundle_type = "transaction" }
//!
//! [[channels.destinations]]
//! name = "fhir-files"
//! to = { type = "file", dir = "./data/out" }
//! filter = { message_types = ["ADT"] }
//! retry = { max_retries = 10 }
//!
//! [plugins]
//! dir = "./plugins"
//!
//! [lookups.facilities]         # read-only tables plugins may look up
//! LAB = "Central Laboratory"
//!
//! [admin]                      # the admin API; see `crate::admin`
//! listen = "127.0.0.1:8080"
//!
//! [audit]                      # the audit log; see `crate::logging`
//! file = "./data/audit.jsonl"
//! stdout = false
//!
//! [alerts]                     # optional; see `crate::alerting`
//! interval_secs = 60
//! webhook_url = "https://siem.example.org/hooks/hl7wasm"
//! ```
//!
//! String values may use `${NAME}` for environment variables (secrets).
//! Loading reports errors with the file, the channel and the key.

mod channel;
mod destination;
mod interpolate;
mod live;
mod load;
pub mod message_type;
mod pipeline;
mod warnings;

pub use channel::{
    AckMode, AfterRead, ChannelConfig, FileSourceConfig, HttpSourceConfig, MllpSourceConfig,
    Ordering, SourceConfig,
};
pub use destination::{DestinationConfig, RetryPolicy, RouteFacts, RouteFilter};
pub use live::LiveSettings;
pub(crate) use live::changed_names;
pub use load::{ConfigError, load_file, parse};
pub use pipeline::StageConfig;
pub use warnings::warnings;

pub use crate::admin::{AdminAccess, AdminClient, AdminConfig, AdminToken, Role};
pub use crate::alerting::AlertsConfig;
pub use crate::logging::AuditConfig;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use crate::store::StoreSettings;
use crate::validation::{Profile, ProfileConfig};

/// The embedded default: one MLLP channel on port 2575, stored under ./data.
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where and how messages are stored.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Where plugins are loaded from.
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// Read-only lookup tables plugins may read: table → key → value.
    #[serde(default)]
    pub lookups: BTreeMap<String, BTreeMap<String, String>>,
    /// Conformance profiles, by name; channels name theirs with
    /// `validation_profile`.
    #[serde(default)]
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// The channels, each with its own source and settings.
    pub channels: Vec<ChannelConfig>,
    /// The admin API. Off when the file has no `[admin]` table.
    #[serde(default)]
    pub admin: AdminConfig,
    /// The alert rules' thresholds and the alert webhook. Every key has a
    /// default.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// The audit log. Off when the file has no `[audit]` table.
    #[serde(default)]
    pub audit: AuditConfig,
    /// The file as written, before `${NAME}` substitution, so that the
    /// admin API can show it without the environment's secrets.
    #[serde(skip)]
    pub as_written: toml::Table,
    /// The file it was read from; `None` for the embedded default, which a
    /// reload has nothing to read again from.
    #[serde(skip)]
    pub file: Option<std::path::PathBuf>,
}

impl Config {
    /// The channel named `name`.
    pub fn channel(&self, name: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|channel| channel.name == name)
    }

    /// The conformance profile `channel` names, ready to apply.
    ///
    /// # Errors
    /// When the profile is missing or does not compile (a checked config
    /// has neither).
    pub fn profile_for(&self, channel: &ChannelConfig) -> Result<Option<Arc<Profile>>, String> {
        let Some(name) = &channel.validation_profile else {
            return Ok(None);
        };
        let config = self.profiles.get(name).ok_or_else(|| {
            format!(
                "channel \"{}\", key validation_profile: there is no [profiles.{name}]",
                channel.name
            )
        })?;
        let profile =
            Profile::compile(name, config).map_err(|e| format!("key profiles.{name}.{e}"))?;
        Ok(Some(Arc::new(profile)))
    }

    /// The lookup tables in the form plugins read them.
    pub fn lookup_tables(&self) -> crate::plugin::LookupTables {
        let tables: HashMap<String, HashMap<String, String>> = self
            .lookups
            .iter()
            .map(|(name, table)| (name.clone(), table.clone().into_iter().collect()))
            .collect();
        Arc::new(tables)
    }
}

/// The `[plugins]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// The plugin directory: every `.wasm` in it is loaded at start, and
    /// uploads are kept there. By default `./plugins`.
    pub dir: PathBuf,
    /// Where compiled plugins are cached. By default `./data/plugin-cache`.
    pub cache_dir: PathBuf,
    /// How often the plugin directory is checked for new or changed
    /// `.wasm` files, in milliseconds; 0 turns watching off. By default
    /// 2000.
    pub watch_interval_ms: u64,
    /// Refuse plugins (uploads and directory files) that are not signed by
    /// one of `trusted_keys`. Bundled plugins are part of the binary and
    /// always load. By default false.
    pub require_signed: bool,
    /// ed25519 public keys (hex, from `hl7wasm plugin keygen`) whose
    /// signatures are trusted. By default none.
    pub trusted_keys: Vec<String>,
    /// The wall-clock budget of checking a plugin as it loads (instantiating
    /// it and calling `info()`), in milliseconds. More than a message's
    /// deadline: an interpreter in a component (Python, JavaScript) starts
    /// slower than a call runs, the more so on a busy host. By default 5000.
    pub load_deadline_ms: u64,
}

impl PluginsConfig {
    /// The keys whose signatures are required, or `None` when unsigned
    /// plugins load.
    pub fn signing(&self) -> Option<Vec<String>> {
        self.require_signed.then(|| self.trusted_keys.clone())
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dir: PathBuf::from("./plugins"),
            cache_dir: PathBuf::from("./data/plugin-cache"),
            watch_interval_ms: 2000,
            require_signed: false,
            trusted_keys: Vec::new(),
            load_deadline_ms: 5000,
        }
    }
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
    /// Messages older than this many days are pruned from the store unless
    /// still queued. By default 30.
    pub retention_days: u64,
    /// Dead letters older than this many days are pruned. By default 30.
    pub dead_letter_retention_days: u64,
    /// How often the pruner runs, in seconds. By default 3600.
    pub prune_interval_secs: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        let defaults = StoreSettings::default();
        StorageConfig {
            dir: PathBuf::from("./data/store"),
            dedupe_window_secs: defaults.dedupe_window_secs,
            cache_capacity_bytes: defaults.cache_capacity_bytes,
            retention_days: 30,
            dead_letter_retention_days: 30,
            prune_interval_secs: 3600,
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
