//! Alerts: conditions an administrator must look at, raised while they
//! hold and cleared when they stop. The admin API lists the active ones;
//! each change is logged.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// One active alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// What kind of condition, for example `dead_letter_depth`.
    pub kind: &'static str,
    /// The channel it concerns.
    pub channel: String,
    /// What holds, in words (no message data).
    pub text: String,
    /// When it was raised, in milliseconds since the Unix epoch.
    pub raised_at_ms: u64,
}

/// The active alerts, one per kind and channel.
#[derive(Debug, Default)]
pub struct Alerts {
    active: Mutex<BTreeMap<(&'static str, String), Alert>>,
}

impl Alerts {
    /// No alerts.
    pub fn new() -> Self {
        Alerts::default()
    }

    /// Raises `kind` for `channel`, or updates its text if it is active.
    pub fn raise(&self, kind: &'static str, channel: &str, text: String) {
        let mut active = self.active.lock().expect("alerts lock");
        let key = (kind, channel.to_string());
        if let Some(alert) = active.get_mut(&key) {
            alert.text = text;
            return;
        }
        tracing::warn!(alert = kind, channel, %text, "Alert raised.");
        active.insert(
            key,
            Alert {
                kind,
                channel: channel.to_string(),
                text,
                raised_at_ms: crate::hl7_input::now_unix_ms(),
            },
        );
    }

    /// Clears `kind` for `channel` if it is active.
    pub fn clear(&self, kind: &'static str, channel: &str) {
        let mut active = self.active.lock().expect("alerts lock");
        if active.remove(&(kind, channel.to_string())).is_some() {
            tracing::info!(alert = kind, channel, "Alert cleared.");
        }
    }

    /// The active alerts, by kind and channel.
    pub fn active(&self) -> Vec<Alert> {
        self.active
            .lock()
            .expect("alerts lock")
            .values()
            .cloned()
            .collect()
    }
}
