//! A channel's plugin pipeline: the stages, in order.

use serde::Deserialize;

use crate::plugin::Isolation;

/// One stage: a plugin version and its settings for this channel.
///
/// ```toml
/// [[channels.pipeline]]
/// plugin = "hl7-to-fhir"
/// version = "latest"          # or "1.2.0", or a sha256 prefix (8+ hex digits)
/// config = { bundle_type = "transaction" }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// The plugin's name, as its `info()` gives it.
    pub plugin: String,
    /// Which version runs: `latest` (the default), an exact version, or a
    /// content hash prefix of at least 8 hex digits.
    #[serde(default = "latest")]
    pub version: String,
    /// The plugin's settings for this channel, handed to `configure` as
    /// JSON. By default an empty object.
    #[serde(default)]
    pub config: toml::Table,
    /// Reuse one instance for many messages (the default) or start a fresh
    /// one for every message (`strict`).
    #[serde(default = "reuse")]
    pub isolation: Isolation,
    /// The wall-clock budget of one call in milliseconds, instantiation
    /// included. By default 100; plugins in interpreted languages (Python,
    /// JavaScript) may need more for large messages.
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
}

impl StageConfig {
    /// The `config` table as the JSON text `configure` receives.
    pub fn config_json(&self) -> String {
        serde_json::to_string(&self.config).expect("TOML values convert to JSON")
    }
}

fn latest() -> String {
    "latest".into()
}

fn default_deadline_ms() -> u64 {
    crate::plugin::PluginLimits::default().deadline_ms
}

fn reuse() -> Isolation {
    Isolation::Reuse
}
