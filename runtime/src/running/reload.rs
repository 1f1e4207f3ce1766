//! What a configuration reload changes: which channels start, stop,
//! restart or stay, and which engine-wide settings changed. The admin
//! API's credentials and the alert rules apply at once (see
//! [`LiveSettings`](crate::config::LiveSettings)); any other engine-wide
//! change needs a restart of the engine.
//!
//! Channels are compared as written (before `${NAME}` substitution, which
//! a running process's environment cannot change), together with what
//! they depend on: the conformance profile a channel names, and the lookup
//! tables when it has plugins. A channel whose `channel` destination feeds
//! a channel that restarts or stops restarts too, since its hand-offs
//! place messages by that channel's partitioning.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use thiserror::Error;

use crate::config::{Config, ConfigError};

/// Top-level sections a reload may change.
const RELOADABLE: [&str; 4] = ["channels", "lookups", "profiles", "alerts"];

/// An engine-wide section some of whose keys a reload applies.
struct LiveSection {
    name: &'static str,
    /// Whether a change to this key applies without a restart.
    live: fn(&str) -> bool,
    /// Whether adding or removing the section is a change of its own (the
    /// admin API runs when `[admin]` is present).
    presence_matters: bool,
}

const LIVE_SECTIONS: [LiveSection; 2] = [
    LiveSection {
        name: "admin",
        live: |key| matches!(key, "tokens" | "client_roles"),
        presence_matters: true,
    },
    LiveSection {
        name: "plugins",
        live: |key| matches!(key, "require_signed" | "trusted_keys"),
        presence_matters: false,
    },
];

/// What a reload did, by channel name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// Channels new in the file, now running.
    pub started: Vec<String>,
    /// Channels whose configuration changed (or that feed one that did),
    /// stopped and started again.
    pub restarted: Vec<String>,
    /// Channels no longer in the file, stopped; their queued messages went
    /// to the dead-letter queue (`not_configured`).
    pub stopped: Vec<String>,
    /// Channels left running untouched.
    pub unchanged: Vec<String>,
    /// Engine-wide settings that changed and now apply: `admin.tokens`,
    /// `admin.client_roles`, `alerts`, `plugins.require_signed`,
    /// `plugins.trusted_keys`.
    pub settings: Vec<String>,
    /// When the signing policy changed: the loaded plugin versions it
    /// would refuse, as `label: reason`. They keep running.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub untrusted_plugins: Vec<String>,
}

impl ReloadReport {
    /// Whether the reload changed nothing: every channel and setting as
    /// it was.
    pub fn changed_nothing(&self) -> bool {
        self.started.is_empty()
            && self.restarted.is_empty()
            && self.stopped.is_empty()
            && self.settings.is_empty()
    }
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |names: &[String]| match names {
            [] => "none".to_string(),
            names => names.join(", "),
        };
        write!(
            f,
            "started: {}; restarted: {}; stopped: {}; unchanged: {}; settings: {}",
            names(&self.started),
            names(&self.restarted),
            names(&self.stopped),
            names(&self.unchanged),
            names(&self.settings)
        )?;
        if !self.untrusted_plugins.is_empty() {
            write!(
                f,
                "; untrusted plugins: {}",
                self.untrusted_plugins.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Why a reload changed nothing (or, for [`ReloadError::Start`], not all
/// it should have).
#[derive(Debug, Error)]
pub enum ReloadError {
    /// The engine runs the embedded default configuration.
    #[error("the engine runs its embedded default configuration: there is no file to read again")]
    NoFile,
    /// The file does not load.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// Engine-wide settings changed that apply only at start: named as
    /// `[section]` or `section.key`.
    #[error("the engine must be restarted for changes to {}; nothing was reloaded", .0.join(", "))]
    NeedsRestart(Vec<String>),
    /// A channel's plugins or destinations do not start; nothing was
    /// stopped.
    #[error("{0:#}; nothing was reloaded")]
    Refused(anyhow::Error),
    /// A channel failed to start after the channels to replace had stopped.
    #[error("{error:#}; the rest was applied ({report})")]
    Start {
        /// What failed.
        error: anyhow::Error,
        /// What was done all the same.
        report: Box<ReloadReport>,
    },
}

impl ReloadError {
    /// A short code for the error, as the admin API answers it and the
    /// reload metric counts it.
    pub fn code(&self) -> &'static str {
        match self {
            ReloadError::NoFile => "no_config_file",
            ReloadError::NeedsRestart(_) => "restart_required",
            ReloadError::Invalid(_) => "invalid_config",
            ReloadError::Refused(_) => "channel_refused",
            ReloadError::Start { .. } => "channel_not_started",
        }
    }
}

/// The channels to start, restart, stop and leave alone.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub start: Vec<String>,
    pub restart: Vec<String>,
    pub stop: Vec<String>,
    pub keep: Vec<String>,
}

impl Plan {
    /// The report of this plan, carried out with `settings` changed.
    pub fn report(self, settings: Vec<String>) -> ReloadReport {
        ReloadReport {
            started: self.start,
            restarted: self.restart,
            stopped: self.stop,
            unchanged: self.keep,
            settings,
            untrusted_plugins: Vec::new(),
        }
    }

    /// Compares the running configuration with the one read; a channel of
    /// `running` that is not `up` (it failed to start in an earlier
    /// reload) is started.
    ///
    /// # Errors
    /// [`ReloadError::NeedsRestart`] when an engine-wide setting changed
    /// that applies only at start.
    pub fn between(
        running: &Config,
        read: &Config,
        up: impl Fn(&str) -> bool,
    ) -> Result<Plan, ReloadError> {
        let changed = changes_needing_restart(&running.as_written, &read.as_written);
        if !changed.is_empty() {
            return Err(ReloadError::NeedsRestart(changed));
        }
        let mut plan = Plan::default();
        for channel in &read.channels {
            let name = &channel.name;
            if running.channel(name).is_none() || !up(name) {
                plan.start.push(name.clone());
            } else if written(running, name) != written(read, name) {
                plan.restart.push(name.clone());
            }
        }
        for channel in &running.channels {
            if read.channel(&channel.name).is_none() && up(&channel.name) {
                plan.stop.push(channel.name.clone());
            }
        }
        // Feeding a restarted or stopped channel restarts a channel too,
        // until nothing more is added.
        loop {
            let replaced: BTreeSet<&String> = plan.restart.iter().chain(&plan.stop).collect();
            let feeders: Vec<String> = read
                .channels
                .iter()
                .filter(|c| !plan.start.contains(&c.name) && !replaced.contains(&c.name))
                .filter(|c| {
                    c.fed_channels()
                        .any(|fed| replaced.iter().any(|r| *r == fed))
                })
                .map(|c| c.name.clone())
                .collect();
            if feeders.is_empty() {
                break;
            }
            plan.restart.extend(feeders);
        }
        plan.keep = read
            .channels
            .iter()
            .map(|c| c.name.clone())
            .filter(|name| !plan.start.contains(name) && !plan.restart.contains(name))
            .collect();
        Ok(plan)
    }
}

/// The engine-wide sections (`[section]`) and keys (`section.key`) that
/// differ between `running` and `read` and apply only at start.
fn changes_needing_restart(running: &toml::Table, read: &toml::Table) -> Vec<String> {
    let sections: BTreeSet<&String> = running.keys().chain(read.keys()).collect();
    let mut changed = Vec::new();
    for section in sections {
        let (before, after) = (running.get(section), read.get(section));
        if RELOADABLE.contains(&section.as_str()) || before == after {
            continue;
        }
        let live = LIVE_SECTIONS.iter().find(|s| s.name == section);
        let Some(live) =
            live.filter(|s| !s.presence_matters || before.is_some() == after.is_some())
        else {
            changed.push(format!("[{section}]"));
            continue;
        };
        let empty = toml::Table::new();
        let before = before.and_then(toml::Value::as_table).unwrap_or(&empty);
        let after = after.and_then(toml::Value::as_table).unwrap_or(&empty);
        let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        changed.extend(
            keys.into_iter()
                .filter(|key| !(live.live)(key) && before.get(*key) != after.get(*key))
                .map(|key| format!("{section}.{key}")),
        );
    }
    changed
}

/// What channel `name` depends on, as written in `config`: its table, the
/// profile it names, and the lookup tables when it has plugins.
fn written(config: &Config, name: &str) -> Option<toml::Table> {
    let index = config.channels.iter().position(|c| c.name == name)?;
    let channel = &config.channels[index];
    let mut written = toml::Table::new();
    let table = config.as_written.get("channels")?.as_array()?.get(index)?;
    written.insert("channel".into(), table.clone());
    if let Some(profile) = &channel.validation_profile {
        let profiles = config
            .as_written
            .get("profiles")
            .and_then(|p| p.get(profile));
        if let Some(profile) = profiles {
            written.insert("profile".into(), profile.clone());
        }
    }
    if !channel.pipeline.is_empty()
        && let Some(lookups) = config.as_written.get("lookups")
    {
        written.insert("lookups".into(), lookups.clone());
    }
    Some(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    const BASE: &str = r#"
        [storage]
        dir = "data"

        [lookups.facilities]
        LAB = "Central Laboratory"

        [[channels]]
        name = "adt"
        [channels.source]
        type = "mllp"
        listen = "127.0.0.1:0"
        [[channels.destinations]]
        name = "to-lab"
        to = { type = "channel", channel = "lab" }

        [[channels]]
        name = "lab"
        [channels.source]
        type = "mllp"
        listen = "127.0.0.1:0"
        [[channels.pipeline]]
        plugin = "enrich"

        [[channels]]
        name = "files"
        [channels.source]
        type = "mllp"
        listen = "127.0.0.1:0"
    "#;

    fn plan(edited: &str) -> Result<Plan, ReloadError> {
        plan_between(BASE, edited)
    }

    fn plan_between(running: &str, edited: &str) -> Result<Plan, ReloadError> {
        let running = parse(running, "running").unwrap();
        let read = parse(edited, "read").unwrap();
        Plan::between(&running, &read, |_| true)
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn an_unchanged_file_keeps_every_channel() {
        let plan = plan(BASE).unwrap();
        assert_eq!(plan.keep, names(&["adt", "lab", "files"]));
        assert!(plan.start.is_empty() && plan.restart.is_empty() && plan.stop.is_empty());
    }

    #[test]
    fn a_changed_channel_restarts_with_the_channels_that_feed_it() {
        let edited = BASE.replacen(
            "plugin = \"enrich\"",
            "plugin = \"enrich\"\nversion = \"1\"",
            1,
        );
        let plan = plan(&edited).unwrap();
        assert_eq!(plan.restart, names(&["lab", "adt"]));
        assert_eq!(plan.keep, names(&["files"]));
    }

    #[test]
    fn lookups_restart_the_channels_with_plugins_only() {
        let edited = BASE.replace("Central Laboratory", "Central Lab");
        let plan = plan(&edited).unwrap();
        assert_eq!(plan.restart, names(&["lab", "adt"]));
        assert_eq!(plan.keep, names(&["files"]));
    }

    #[test]
    fn channels_added_and_removed_start_and_stop() {
        let edited = BASE.replace("name = \"files\"", "name = \"archive\"");
        let plan = plan(&edited).unwrap();
        assert_eq!(plan.start, names(&["archive"]));
        assert_eq!(plan.stop, names(&["files"]));
        assert_eq!(plan.keep, names(&["adt", "lab"]));
    }

    #[test]
    fn engine_wide_sections_need_a_restart() {
        let edited = BASE.replace("dir = \"data\"", "dir = \"elsewhere\"") + "\n[admin]\n";
        let Err(ReloadError::NeedsRestart(sections)) = plan(&edited) else {
            panic!("a changed storage section is refused");
        };
        assert_eq!(sections, names(&["[admin]", "[storage]"]));
    }

    #[test]
    fn admin_credentials_and_alerts_apply_while_the_admin_address_needs_a_restart() {
        let admin = "[admin]\nlisten = \"127.0.0.1:8181\"\n\
                     tokens = [{ name = \"a\", token = \"0123456789abcdef\", role = \"admin\" }]\n";
        let running = format!("{admin}{BASE}");
        let rotated = running
            .replace("0123456789abcdef", "fedcba9876543210")
            .replace("[admin]", "[alerts]\nqueue_age_max_secs = 60\n\n[admin]");
        let plan = plan_between(&running, &rotated).unwrap();
        assert_eq!(plan.keep, names(&["adt", "lab", "files"]));

        let moved = rotated.replace("127.0.0.1:8181", "127.0.0.1:8282").replace(
            "[alerts]",
            "[alerts]\nwebhook_url = \"http://127.0.0.1:9/\"",
        );
        let Err(ReloadError::NeedsRestart(keys)) = plan_between(&running, &moved) else {
            panic!("a new admin address is refused");
        };
        assert_eq!(keys, names(&["admin.listen"]));

        let Err(ReloadError::NeedsRestart(keys)) = plan_between(&running, BASE) else {
            panic!("removing the admin API is refused");
        };
        assert_eq!(keys, names(&["[admin]"]));
    }

    #[test]
    fn plugin_signing_applies_while_the_plugin_directory_needs_a_restart() {
        let signed = format!("[plugins]\nrequire_signed = true\ntrusted_keys = [\"aa\"]\n{BASE}");
        let trusting = signed.replace("[\"aa\"]", "[\"aa\", \"bb\"]");
        assert!(plan_between(&signed, &trusting).is_ok());
        let moved = trusting.replace("[plugins]", "[plugins]\ndir = \"elsewhere\"");
        let Err(ReloadError::NeedsRestart(keys)) = plan_between(&signed, &moved) else {
            panic!("a new plugin directory is refused");
        };
        assert_eq!(keys, names(&["plugins.dir"]));
    }
}
