//! The channels the engine runs, started at start and changed by a
//! configuration reload without a restart of the engine.
//!
//! [`Channels`] owns every running channel (its workers and source) and
//! publishes a [`ChannelSet`]: the channels' configurations, pipelines and
//! addresses as they are now, which the admin API, the alert evaluator
//! and the plugin watcher read. A reload ([`Channels::reload`]) reads the
//! configuration file again and, when only channels, lookup tables,
//! profiles, the admin API's credentials, the alert rules and webhook or
//! the plugin signing policy changed:
//!
//! 1. checks every channel to start: its plugins are instantiated and
//!    configured and its destinations' connectors built, so that a bad
//!    plugin config or destination refuses the reload before anything
//!    stops;
//! 2. stops the channels removed or changed (their sources close, the
//!    messages in flight finish, the workers end);
//! 3. moves their queued work to its new partitions and dead-letters the
//!    work of channels and destinations no longer configured, as a start
//!    does;
//! 4. starts the new and changed channels. Channels that did not change
//!    keep running throughout, their connections open.
//!
//! The credentials, alert rules, webhook and signing policy take effect
//! after step 1, for the next request, evaluation, alert and plugin load. `preview` (a dry
//! run) does step 1 alone and says what the rest would do.

mod channel;
mod reload;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::Mutex;

use crate::admin::redacted;
use crate::alerting::{Posting, Webhook};
use crate::alerts::Notifier;
use crate::config::{self, ChannelConfig, Config};
use crate::ingest::AckIds;
use crate::logging::AUDIT_TARGET;
use crate::pipeline::{
    ChannelPipeline, Processing, Shared, check_plugin_room, follow_configuration,
};
use crate::plugin::{PluginRegistry, UntrustedVersion};
use channel::RunningChannel;
use reload::Plan;
pub use reload::{ReloadError, ReloadReport};

/// What starting a channel needs from the engine.
pub struct ChannelContext {
    /// The store, wakers, metrics, alerts, TLS files and shutdown signal.
    pub shared: Shared,
    /// The plugin registry, when a channel had plugins at start.
    pub registry: Option<Arc<PluginRegistry>>,
    /// Control IDs for outgoing ACKs.
    pub ack_ids: Arc<AckIds>,
}

/// The channels as they run now.
#[derive(Default)]
pub struct ChannelSet {
    /// Their configurations, in the file's order.
    pub configs: Vec<ChannelConfig>,
    /// Their pipelines, by name.
    pub pipelines: BTreeMap<String, Arc<ChannelPipeline>>,
    /// Where each MLLP or HTTP source listens, by channel name.
    pub addresses: BTreeMap<String, SocketAddr>,
    /// The configuration as `GET /api/v1/config` shows it: secrets
    /// redacted.
    pub config_view: serde_json::Value,
}

impl ChannelSet {
    /// The channel named `name`.
    pub fn channel(&self, name: &str) -> Option<&ChannelConfig> {
        self.configs.iter().find(|c| c.name == name)
    }
}

/// A reload read, planned and checked, not yet applied.
struct Prepared {
    read: Config,
    plan: Plan,
    /// The checked processing side of each channel to start, by name.
    checked: BTreeMap<String, Processing>,
    /// The alert webhook that replaces the running one (none when `read`
    /// has no `webhook_url`), when its settings changed.
    webhook: Option<Option<(Webhook, Posting)>>,
}

/// The running configuration and channels, changed one reload at a time.
struct Running {
    config: Config,
    channels: BTreeMap<String, RunningChannel>,
}

/// The engine's channels: started, reloaded and stopped.
pub struct Channels {
    context: ChannelContext,
    running: Mutex<Running>,
    current: RwLock<Arc<ChannelSet>>,
    /// Held for writing while a reload stops, moves and starts channels;
    /// those who place messages in queues by a channel's partitioning hold
    /// it for reading (see [`Channels::steady`]).
    reshaping: Arc<tokio::sync::RwLock<()>>,
}

impl Channels {
    /// Starts every channel of `config`, in order.
    ///
    /// # Errors
    /// Names the channel that cannot start; the channels started before it
    /// stop when the engine's shutdown signal is cancelled.
    pub async fn start(config: Config, context: ChannelContext) -> anyhow::Result<Channels> {
        let mut running = BTreeMap::new();
        for channel in &config.channels {
            let processing = Processing::check(&config, channel, context.registry.as_deref())?;
            let started = RunningChannel::start(&config, channel, processing, &context).await?;
            running.insert(channel.name.clone(), started);
        }
        let set = publish(&config, &running);
        Ok(Channels {
            context,
            running: Mutex::new(Running {
                config,
                channels: running,
            }),
            current: RwLock::new(Arc::new(set)),
            reshaping: Arc::default(),
        })
    }

    /// Waits until no reload is changing channels, and keeps reloads from
    /// changing them until the guard is dropped. Reprocessing holds it while
    /// it places messages by the partitioning of [`Channels::current`], so
    /// that none lands in a partition a reload is taking away.
    pub async fn steady(&self) -> tokio::sync::OwnedRwLockReadGuard<()> {
        Arc::clone(&self.reshaping).read_owned().await
    }

    /// The plugin registry, when a channel had plugins at start.
    pub fn registry(&self) -> Option<&Arc<PluginRegistry>> {
        self.context.registry.as_ref()
    }

    /// The channels as they run now.
    pub fn current(&self) -> Arc<ChannelSet> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Reads the configuration file again and applies what changed in its
    /// channels, lookup tables, profiles, admin credentials, alert rules
    /// and plugin signing policy (see the module docs).
    ///
    /// # Errors
    /// See [`ReloadError`]: all but [`ReloadError::Start`] leave the
    /// engine as it was.
    pub async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let mut running = self.running.lock().await;
        let Prepared {
            read,
            plan,
            checked,
            webhook,
        } = self.prepare(&running).await?;
        let mut settings = self.context.shared.settings.apply(&read);
        let signing = self.apply_signing(&running.config, &read);
        let untrusted = self.untrusted_after(&signing, PluginRegistry::untrusted);
        settings.extend(signing);
        if let Some(webhook) = webhook {
            self.replace_webhook(webhook);
        }
        let reshaping = self.reshaping.write().await;
        self.stop_replaced(&mut running, &plan).await;
        let failures = match self.follow(&read, &plan).await {
            Ok(()) => self.start_checked(&mut running, &read, checked).await,
            // Workers must not run on work that was not moved.
            Err(error) => vec![error.context("no channel was started")],
        };
        running.config = read;
        let set = publish(&running.config, &running.channels);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(set);
        drop(reshaping);
        let report = ReloadReport {
            untrusted_plugins: untrusted,
            ..plan.report(settings)
        };
        if failures.is_empty() {
            return Ok(report);
        }
        let text: Vec<String> = failures.iter().map(|e| format!("{e:#}")).collect();
        Err(ReloadError::Start {
            error: anyhow::anyhow!(text.join("; ")),
            report: Box::new(report),
        })
    }

    /// What [`Channels::reload`] would do now, with the same checks, but
    /// nothing applied: a dry run.
    ///
    /// # Errors
    /// As [`Channels::reload`], but for [`ReloadError::Start`].
    pub async fn preview(&self) -> Result<ReloadReport, ReloadError> {
        let running = self.running.lock().await;
        let prepared = self.prepare(&running).await?;
        let mut settings = self.context.shared.settings.changes(&prepared.read);
        let signing = signing_changes(&running.config, &prepared.read);
        let policy = prepared.read.plugins.signing();
        let untrusted =
            self.untrusted_after(&signing, |registry| registry.refused_by(policy.as_deref()));
        settings.extend(signing);
        Ok(ReloadReport {
            untrusted_plugins: untrusted,
            ..prepared.plan.report(settings)
        })
    }

    /// When the signing keys in `changed` changed: the loaded plugin
    /// versions `judge` finds the policy refuses, as `label: reason`.
    fn untrusted_after(
        &self,
        changed: &[String],
        judge: impl FnOnce(&PluginRegistry) -> Vec<UntrustedVersion>,
    ) -> Vec<String> {
        let Some(registry) = self
            .context
            .registry
            .as_ref()
            .filter(|_| !changed.is_empty())
        else {
            return Vec::new();
        };
        judge(registry).iter().map(ToString::to_string).collect()
    }

    /// Gives the plugin registry `read`'s signing policy when it differs
    /// from `running`'s; returns the keys that changed.
    fn apply_signing(&self, running: &Config, read: &Config) -> Vec<String> {
        let changed = signing_changes(running, read);
        if let Some(registry) = self
            .context
            .registry
            .as_ref()
            .filter(|_| !changed.is_empty())
        {
            registry.set_signing(read.plugins.signing());
            tracing::info!(
                target: AUDIT_TARGET,
                require_signed = read.plugins.require_signed,
                trusted_keys = read.plugins.trusted_keys.len(),
                "Plugin signing policy changed."
            );
            for version in registry.untrusted() {
                tracing::warn!(
                    target: AUDIT_TARGET,
                    plugin = %version.label,
                    reason = %version.reason,
                    "Loaded plugin version fails the new signing policy; it runs until replaced or removed."
                );
            }
        }
        changed
    }

    /// Has alerts raised and cleared from now on posted by `webhook`; the
    /// webhook it replaces posts what it has queued, then ends.
    fn replace_webhook(&self, webhook: Option<(Webhook, Posting)>) {
        let notifier = webhook.map(|(webhook, posting)| {
            tokio::spawn(posting);
            Box::new(webhook) as Box<dyn Notifier>
        });
        self.context.shared.alerts.set_notifier(notifier);
        tracing::info!(target: AUDIT_TARGET, "Alert webhook changed.");
    }

    /// Reads the configuration file, plans the reload and checks the
    /// channels to start (their plugins are instantiated and configured,
    /// their destinations' connectors built) and the alert webhook.
    async fn prepare(&self, running: &Running) -> Result<Prepared, ReloadError> {
        let path = running.config.file.clone().ok_or(ReloadError::NoFile)?;
        let read = tokio::task::spawn_blocking(move || config::load_file(&path))
            .await
            .expect("reading the configuration panicked")?;
        let plan = Plan::between(&running.config, &read, |name| {
            running.channels.contains_key(name)
        })?;
        let registry = self.context.registry.as_deref();
        check_plugin_room(&read, registry).map_err(|e| ReloadError::NeedsRestart(vec![e]))?;
        let mut checked = BTreeMap::new();
        for name in plan.start.iter().chain(&plan.restart) {
            let channel = read.channel(name).expect("planned from the file");
            let processing =
                Processing::check(&read, channel, registry).map_err(ReloadError::Refused)?;
            checked.insert(name.clone(), processing);
        }
        let (before, after) = (&running.config.alerts, &read.alerts);
        let webhook_changed = (&before.webhook_url, before.webhook_timeout_secs)
            != (&after.webhook_url, after.webhook_timeout_secs);
        let webhook = webhook_changed
            .then(|| Webhook::of(after, &self.context.shared.shutdown))
            .transpose()
            .map_err(ReloadError::Refused)?;
        Ok(Prepared {
            read,
            plan,
            checked,
            webhook,
        })
    }

    /// Stops the channels `plan` restarts or stops; forgets the signals
    /// and alerts of those it stops.
    async fn stop_replaced(&self, running: &mut Running, plan: &Plan) {
        let context = &self.context;
        for name in plan.restart.iter().chain(&plan.stop) {
            if let Some(channel) = running.channels.remove(name) {
                channel.stop(context).await;
                tracing::info!(channel = name, "Channel stopped for the reload.");
            }
        }
        for name in &plan.stop {
            context.shared.wakers.remove_channel(name);
            context.shared.alerts.clear_channel(name);
        }
    }

    /// Moves the queued work of the channels `plan` starts (a new channel
    /// may find work queued under its name long ago) or restarts, and
    /// dead-letters that of channels and destinations `read` drops.
    async fn follow(&self, read: &Config, plan: &Plan) -> anyhow::Result<()> {
        let shared = &self.context.shared;
        let (store, metrics) = (shared.store.clone(), shared.metrics.clone());
        let starting: Vec<ChannelConfig> = plan
            .start
            .iter()
            .chain(&plan.restart)
            .filter_map(|name| read.channel(name).cloned())
            .collect();
        let read = read.clone();
        tokio::task::spawn_blocking(move || {
            follow_configuration(&read, &starting, &store, &metrics)
        })
        .await
        .expect("moving queued work panicked")
    }

    /// Starts the `checked` channels, in the file's order; returns why
    /// those that did not start failed.
    async fn start_checked(
        &self,
        running: &mut Running,
        read: &Config,
        mut checked: BTreeMap<String, Processing>,
    ) -> Vec<anyhow::Error> {
        let mut failures = Vec::new();
        for channel in &read.channels {
            let Some(processing) = checked.remove(&channel.name) else {
                continue;
            };
            match RunningChannel::start(read, channel, processing, &self.context).await {
                Ok(started) => {
                    running.channels.insert(channel.name.clone(), started);
                }
                Err(error) => failures.push(error),
            }
        }
        failures
    }

    /// Waits for every channel's workers and source to end, once the
    /// engine's shutdown signal is cancelled.
    pub async fn finish(&self) {
        let mut running = self.running.lock().await;
        for (_, channel) in std::mem::take(&mut running.channels) {
            channel.finish().await;
        }
    }
}

/// The `[plugins]` signing keys that differ between `running` and `read`.
fn signing_changes(running: &Config, read: &Config) -> Vec<String> {
    let (before, after) = (&running.plugins, &read.plugins);
    config::changed_names([
        (
            "plugins.require_signed",
            before.require_signed != after.require_signed,
        ),
        (
            "plugins.trusted_keys",
            before.trusted_keys != after.trusted_keys,
        ),
    ])
}

/// The channel set `running` gives under `config`: a channel that failed
/// to start in a reload is left out.
fn publish(config: &Config, running: &BTreeMap<String, RunningChannel>) -> ChannelSet {
    let configs: Vec<ChannelConfig> = config
        .channels
        .iter()
        .filter(|c| running.contains_key(&c.name))
        .cloned()
        .collect();
    ChannelSet {
        pipelines: running
            .iter()
            .map(|(name, channel)| (name.clone(), channel.pipeline.clone()))
            .collect(),
        addresses: running
            .iter()
            .filter_map(|(name, channel)| Some((name.clone(), channel.address?)))
            .collect(),
        configs,
        config_view: redacted(&config.as_written),
    }
}
