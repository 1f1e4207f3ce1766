//! How an administrator tunes the message store.

use std::time::Duration;

/// Settings of the message store (the config file's `[storage]` table sets
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// How long a message's (MSH-3, MSH-4, MSH-10) is remembered: a resend
    /// within this window is acknowledged again but not stored or processed a
    /// second time. By default 24 hours (86400 seconds).
    pub dedupe_window_secs: u64,
    /// Memory sled may use to cache pages. By default 64 MiB.
    pub cache_capacity_bytes: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            dedupe_window_secs: 24 * 60 * 60,
            cache_capacity_bytes: 64 << 20,
        }
    }
}

impl StoreSettings {
    /// The dedupe window as a duration.
    pub fn dedupe_window(&self) -> Duration {
        Duration::from_secs(self.dedupe_window_secs)
    }
}
