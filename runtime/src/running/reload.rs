//! What a configuration reload changes: which channels start, stop,
//! restart or stay, and which engine-wide sections changed (those need a
//! restart of the engine).
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
const RELOADABLE: [&str; 3] = ["channels", "lookups", "profiles"];

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
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |names: &[String]| match names {
            [] => "none".to_string(),
            names => names.join(", "),
        };
        write!(
            f,
            "started: {}; restarted: {}; stopped: {}; unchanged: {}",
            names(&self.started),
            names(&self.restarted),
            names(&self.stopped),
            names(&self.unchanged)
        )
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
    /// Sections other than channels, lookups and profiles changed.
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
        report: ReloadReport,
    },
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
    /// Compares the running configuration with the one read; a channel of
    /// `running` that is not `up` (it failed to start in an earlier
    /// reload) is started.
    ///
    /// # Errors
    /// [`ReloadError::NeedsRestart`] when a section other than channels,
    /// lookups or profiles changed.
    pub fn between(
        running: &Config,
        read: &Config,
        up: impl Fn(&str) -> bool,
    ) -> Result<Plan, ReloadError> {
        let sections: BTreeSet<&String> = running
            .as_written
            .keys()
            .chain(read.as_written.keys())
            .collect();
        let changed: Vec<String> = sections
            .into_iter()
            .filter(|key| !RELOADABLE.contains(&key.as_str()))
            .filter(|key| running.as_written.get(*key) != read.as_written.get(*key))
            .map(|key| format!("[{key}]"))
            .collect();
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
        let running = parse(BASE, "running").unwrap();
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
}
