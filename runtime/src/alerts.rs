//! Alerts: conditions an administrator must look at, raised while they
//! hold and cleared when they stop. The admin API lists the active ones;
//! each change is logged on the `audit` target and passed to the
//! [`Notifier`], when there is one (see `crate::alerting` for the rules and
//! the webhook).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError, RwLock};

use serde::Serialize;

use crate::logging::AUDIT_TARGET;

/// One active alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// What kind of condition, for example `dead_letter_depth`.
    pub kind: &'static str,
    /// The channel it concerns; empty for an engine-wide alert
    /// (`storage_space`).
    pub channel: String,
    /// What holds, in words (no message data).
    pub text: String,
    /// When it was raised, in milliseconds since the Unix epoch.
    pub raised_at_ms: u64,
}

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// It began to hold.
    Raised,
    /// It stopped holding.
    Cleared,
}

/// Told of every raise and clear, after the alert store changed. It must
/// not block: it runs on the caller's thread.
pub trait Notifier: Send + Sync + fmt::Debug {
    /// `alert` was raised or cleared.
    fn notify(&self, alert: &Alert, state: AlertState);
}

/// The active alerts, one per kind and channel.
#[derive(Debug, Default)]
pub struct Alerts {
    active: Mutex<BTreeMap<(&'static str, String), Alert>>,
    notifier: RwLock<Option<Box<dyn Notifier>>>,
}

impl Alerts {
    /// No alerts.
    pub fn new() -> Self {
        Alerts::default()
    }

    /// No alerts; each raise and clear is passed to `notifier`.
    pub fn with_notifier(notifier: Box<dyn Notifier>) -> Self {
        Alerts {
            notifier: RwLock::new(Some(notifier)),
            ..Alerts::default()
        }
    }

    /// Passes each raise and clear from now on to `notifier` (none with
    /// `None`): a reload that changes the webhook.
    pub fn set_notifier(&self, notifier: Option<Box<dyn Notifier>>) {
        *self
            .notifier
            .write()
            .unwrap_or_else(PoisonError::into_inner) = notifier;
    }

    fn notify(&self, alert: &Alert, state: AlertState) {
        let notifier = self.notifier.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(notifier) = notifier.as_ref() {
            notifier.notify(alert, state);
        }
    }

    /// Raises `kind` for `channel`, or updates its text if it is active.
    pub fn raise(&self, kind: &'static str, channel: &str, text: String) {
        let mut active = self.active.lock().expect("alerts lock");
        let key = (kind, channel.to_string());
        if let Some(alert) = active.get_mut(&key) {
            alert.text = text;
            return;
        }
        tracing::warn!(target: AUDIT_TARGET, alert = kind, channel, %text, "Alert raised.");
        let alert = Alert {
            kind,
            channel: channel.to_string(),
            text,
            raised_at_ms: crate::hl7_input::now_unix_ms(),
        };
        self.notify(&alert, AlertState::Raised);
        active.insert(key, alert);
    }

    /// Clears `kind` for `channel` if it is active.
    pub fn clear(&self, kind: &'static str, channel: &str) {
        let mut active = self.active.lock().expect("alerts lock");
        if let Some(alert) = active.remove(&(kind, channel.to_string())) {
            tracing::info!(target: AUDIT_TARGET, alert = kind, channel, "Alert cleared.");
            self.notify(&alert, AlertState::Cleared);
        }
    }

    /// Clears every alert of `channel` (one that no longer runs).
    pub fn clear_channel(&self, channel: &str) {
        let kinds: Vec<&'static str> = self
            .active()
            .into_iter()
            .filter(|alert| alert.channel == channel)
            .map(|alert| alert.kind)
            .collect();
        for kind in kinds {
            self.clear(kind, channel);
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
