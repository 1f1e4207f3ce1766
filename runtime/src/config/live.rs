//! The engine-wide settings that a configuration reload changes while the
//! engine runs: who may call the admin API (`admin.tokens`,
//! `admin.client_roles`) and the alert rules (`[alerts]`; the reload
//! replaces the webhook itself, see `crate::running`).
//! Readers take the current value for each use, so a reload reaches the
//! next request or evaluation without a restart.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::watch;

use super::{AdminAccess, AlertsConfig, Config};
use crate::logging::AUDIT_TARGET;

/// The settings a reload may change, as they are now.
#[derive(Debug)]
pub struct LiveSettings {
    admin_access: RwLock<Arc<AdminAccess>>,
    alerts: watch::Sender<Arc<AlertsConfig>>,
}

impl LiveSettings {
    /// The settings of `config`.
    pub fn new(config: &Config) -> Self {
        LiveSettings {
            admin_access: RwLock::new(Arc::new(config.admin.access())),
            alerts: watch::Sender::new(Arc::new(config.alerts.clone())),
        }
    }

    /// Who may call the admin API now.
    pub fn admin_access(&self) -> Arc<AdminAccess> {
        current(&self.admin_access)
    }

    /// The alert rules now.
    pub fn alerts(&self) -> Arc<AlertsConfig> {
        Arc::clone(&self.alerts.borrow())
    }

    /// Follows the alert rules: the receiver hears of each change.
    pub fn watch_alerts(&self) -> watch::Receiver<Arc<AlertsConfig>> {
        self.alerts.subscribe()
    }

    /// The names of the settings that differ in `config`:
    /// `admin.tokens`, `admin.client_roles`, `alerts`.
    pub fn changes(&self, config: &Config) -> Vec<String> {
        changed_names(self.differences(config))
    }

    /// Takes `config`'s settings; returns the names of those that changed
    /// (see [`LiveSettings::changes`]). A change of tokens is written to
    /// the audit log by token name, never by secret.
    pub fn apply(&self, config: &Config) -> Vec<String> {
        let differences = self.differences(config);
        let [(_, tokens), (_, client_roles), (_, alerts)] = differences;
        let access = config.admin.access();
        if tokens {
            log_token_changes(&self.admin_access(), &access);
        }
        if client_roles {
            tracing::info!(target: AUDIT_TARGET, "Admin client roles changed.");
        }
        if tokens || client_roles {
            replace(&self.admin_access, access);
        }
        if alerts {
            self.alerts.send_replace(Arc::new(config.alerts.clone()));
        }
        changed_names(differences)
    }

    /// Each setting's name and whether `config` differs in it.
    fn differences(&self, config: &Config) -> [(&'static str, bool); 3] {
        let before = self.admin_access();
        [
            ("admin.tokens", config.admin.tokens != before.tokens),
            (
                "admin.client_roles",
                config.admin.client_roles != before.client_roles,
            ),
            ("alerts", config.alerts != *self.alerts()),
        ]
    }
}

/// The names of the settings whose flag is set, in order.
pub(crate) fn changed_names<const N: usize>(differ: [(&'static str, bool); N]) -> Vec<String> {
    differ
        .into_iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| name.to_string())
        .collect()
}

fn current<T>(cell: &RwLock<Arc<T>>) -> Arc<T> {
    Arc::clone(&cell.read().unwrap_or_else(PoisonError::into_inner))
}

fn replace<T>(cell: &RwLock<Arc<T>>, value: T) {
    *cell.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(value);
}

/// Logs which tokens were added, removed or changed (secret or role), by
/// name.
fn log_token_changes(before: &AdminAccess, after: &AdminAccess) {
    let by_name = |access: &AdminAccess| -> BTreeMap<String, (String, &'static str)> {
        access
            .tokens
            .iter()
            .map(|t| (t.name.clone(), (t.token.clone(), t.role.as_str())))
            .collect()
    };
    let (old, new) = (by_name(before), by_name(after));
    let names = |keep: &dyn Fn(&String) -> bool, from: &BTreeMap<String, _>| -> String {
        from.keys()
            .filter(|name| keep(name))
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
    };
    let added = names(&|name| !old.contains_key(name), &new);
    let removed = names(&|name| !new.contains_key(name), &old);
    let changed = names(
        &|name| old.get(name).is_some_and(|was| new.get(name) != Some(was)),
        &old,
    );
    tracing::info!(target: AUDIT_TARGET, added, removed, changed, "Admin tokens changed.");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AdminToken, Role};

    fn config(tokens: &[(&str, &str, Role)], queue_age_max_secs: u64) -> Config {
        let mut config = crate::config::parse(crate::config::EMBEDDED_DEFAULT, "default").unwrap();
        config.admin.tokens = tokens
            .iter()
            .map(|(name, token, role)| AdminToken {
                name: (*name).into(),
                token: (*token).into(),
                role: *role,
            })
            .collect();
        config.alerts.queue_age_max_secs = queue_age_max_secs;
        config
    }

    #[test]
    fn changes_names_what_differs_and_apply_takes_it() {
        let first = config(&[("a", "secret-of-a-0123456", Role::Admin)], 600);
        let live = LiveSettings::new(&first);
        assert!(live.apply(&first).is_empty());

        let rotated = config(&[("a", "new-secret-of-a-0123", Role::Admin)], 600);
        assert_eq!(live.changes(&rotated), ["admin.tokens"]);
        assert_eq!(live.admin_access().tokens[0].token, "secret-of-a-0123456");
        assert_eq!(live.apply(&rotated), ["admin.tokens"]);
        assert_eq!(live.admin_access().tokens[0].token, "new-secret-of-a-0123");

        let alerts = config(&[("a", "new-secret-of-a-0123", Role::Admin)], 30);
        assert_eq!(live.apply(&alerts), ["alerts"]);
        assert_eq!(live.alerts().queue_age_max_secs, 30);
        assert!(live.apply(&alerts).is_empty());
    }
}
