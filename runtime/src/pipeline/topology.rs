//! Assembling the processing side from the configuration: the plugin
//! registry, each channel's stages and routes, a pipeline worker per
//! partition and a delivery worker per destination and partition.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::active::ActiveStages;
use super::chain::Stage;
use super::channel::ChannelPipeline;
use super::control::{ChannelControl, ChannelState};
use super::delivery::{DeliveryWorker, Target};
use super::partition::PartitionWorker;
use super::router::Route;
use super::unserved::{Unserved, dead_letter_unserved};
use super::wakers::Wakers;
use crate::alerts::Alerts;
use crate::config::{ChannelConfig, Config, LiveSettings};
use crate::deliver::{Connector, TargetConfig};
use crate::metrics::Metrics;
use crate::plugin::{
    EngineSettings, InstancePolicy, PluginEngine, PluginLimits, PluginRegistry, PluginWorker,
    StageSettings, bundled,
};
use crate::store::Store;
use crate::tls::{CertificateSummary, ClientCheck, ClientState, TlsEndpoint, TlsFiles};

/// What the processing side shares with the rest of the engine.
pub struct Shared {
    /// The store.
    pub store: Store,
    /// Wake-up signals.
    pub wakers: Arc<Wakers>,
    /// The engine's metrics.
    pub metrics: Arc<Metrics>,
    /// The engine's alerts.
    pub alerts: Arc<Alerts>,
    /// The engine's TLS files; destinations register theirs.
    pub tls: Arc<TlsFiles>,
    /// The alert rules (and admin credentials) as they are now.
    pub settings: Arc<LiveSettings>,
    /// Cancelled when the engine shuts down.
    pub shutdown: CancellationToken,
}

/// What the engine does once at start, before any channel's workers run:
/// moves queued work whose channel's partitioning changed, dead-letters
/// the work of channels and destinations no longer configured, and opens
/// the plugin registry when a channel has plugins.
///
/// # Errors
/// When the store fails, or the plugin registry cannot open.
pub fn prepare_start(
    config: &Config,
    store: &Store,
    metrics: &Metrics,
) -> anyhow::Result<Option<Arc<PluginRegistry>>> {
    // Before any worker runs: a hand-off could otherwise queue work by the
    // new partitioning among work not moved yet.
    follow_configuration(config, config.channels.iter(), store, metrics)?;
    open_registry(config, metrics)
}

/// Moves the queued work of `channels` whose partitioning changed (see
/// [`Store::repartition`]) and dead-letters the queued work of channels and
/// destinations `config` does not name; no worker of `channels` may run.
///
/// # Errors
/// When the store fails.
pub fn follow_configuration<'a>(
    config: &Config,
    channels: impl IntoIterator<Item = &'a ChannelConfig>,
    store: &Store,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    for channel in channels {
        follow_partitioning(store, channel)?;
    }
    let unserved = dead_letter_unserved(store, config, metrics)?;
    if unserved != Unserved::default() {
        tracing::warn!(
            inbound = unserved.inbound,
            outbound = unserved.outbound,
            "Queued messages of channels or destinations no longer configured were dead-lettered (not_configured)."
        );
    }
    Ok(())
}

/// One channel's processing side, checked and ready to spawn: its stages
/// (each instantiated and configured once, so a bad plugin config is
/// found before anything starts) and a target per destination and
/// partition.
pub struct Processing {
    stages: Vec<Stage>,
    targets: Vec<Vec<Target>>,
}

impl Processing {
    /// Checks `channel`'s stages and builds its destinations' connectors.
    ///
    /// # Errors
    /// Names the channel and the stage or destination that cannot start.
    pub fn check(
        config: &Config,
        channel: &ChannelConfig,
        registry: Option<&PluginRegistry>,
    ) -> anyhow::Result<Processing> {
        let stages = resolve_stages(config, channel, registry)?;
        let mut targets = Vec::new();
        for destination in &channel.destinations {
            let at = || destination_label(channel, &destination.name);
            let per_partition = (0..channel.partitions)
                .map(|_| target(config, channel, &destination.to))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(at)?;
            targets.push(per_partition);
        }
        Ok(Processing { stages, targets })
    }

    /// Spawns a pipeline worker per partition and a delivery worker per
    /// destination and partition into `tasks`; they stop when `stop` is
    /// cancelled.
    ///
    /// # Errors
    /// When the channel's stored run state cannot be read, or a
    /// destination's TLS files no longer load.
    pub fn spawn(
        self,
        channel: &ChannelConfig,
        shared: &Shared,
        stop: CancellationToken,
        tasks: &mut JoinSet<()>,
    ) -> anyhow::Result<Arc<ChannelPipeline>> {
        for destination in &channel.destinations {
            if destination.to.has_reloadable_files() {
                let endpoint = TlsEndpoint::Destination {
                    channel: channel.name.clone(),
                    destination: destination.name.clone(),
                };
                let check = tls_check(destination.to.clone());
                shared
                    .tls
                    .add_client(endpoint, check)
                    .map_err(anyhow::Error::msg)
                    .with_context(|| destination_label(channel, &destination.name))?;
            }
        }
        let routes = channel
            .destinations
            .iter()
            .map(|d| Route {
                destination: d.name.clone(),
                filter: d.filter.clone(),
            })
            .collect();
        shared.wakers.set_channel(channel);
        let pipeline = Arc::new(ChannelPipeline {
            config: channel.clone(),
            stages: ActiveStages::new(self.stages),
            routes,
            store: shared.store.clone(),
            wakers: shared.wakers.clone(),
            metrics: shared.metrics.clone(),
            alerts: shared.alerts.clone(),
            tls: shared.tls.clone(),
            settings: shared.settings.clone(),
            control: Arc::new(ChannelControl::new(initial_state(shared, &channel.name)?)),
            shutdown: stop,
        });
        for partition in 0..channel.partitions {
            tasks.spawn(PartitionWorker::new(pipeline.clone(), partition).run());
        }
        for (destination, targets) in channel.destinations.iter().zip(self.targets) {
            for (partition, target) in (0..).zip(targets) {
                let worker =
                    DeliveryWorker::new(pipeline.clone(), destination.clone(), partition, target);
                tasks.spawn(worker.run());
            }
        }
        tasks.spawn(pipeline.clone().watch_dead_letters());
        Ok(pipeline)
    }
}

fn destination_label(channel: &ChannelConfig, destination: &str) -> String {
    format!(
        "channel \"{}\", destination \"{destination}\"",
        channel.name
    )
}

/// Moves `channel`'s queued work to the partitions its partitioning gives
/// it, when that changed since the store last saw it (see
/// [`Store::repartition`]), and logs what moved.
fn follow_partitioning(store: &Store, channel: &ChannelConfig) -> anyhow::Result<()> {
    let destinations: Vec<&str> = channel
        .destinations
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    let partitioning = channel.partitioning();
    let moved = store
        .repartition(
            &channel.name,
            &partitioning,
            &destinations,
            channel.partitions,
            |raw| channel.partition_of_raw(raw),
        )
        .with_context(|| {
            format!(
                "channel \"{}\": moving its queued messages to its new partitions",
                channel.name
            )
        })?;
    if let Some(moved) = moved.filter(|m| m.inbound + m.outbound > 0) {
        tracing::warn!(
            channel = channel.name,
            partitioning,
            inbound = moved.inbound,
            outbound = moved.outbound,
            "Channel partitioning changed: queued messages moved to their new partitions."
        );
    }
    Ok(())
}

/// The state an administrator left `channel` in before the engine last
/// stopped (running if none, or if the stored name is unknown).
fn initial_state(shared: &Shared, channel: &str) -> anyhow::Result<ChannelState> {
    let stored = shared
        .store
        .channel_state(channel)
        .with_context(|| format!("channel \"{channel}\": reading its run state"))?;
    let state = stored
        .as_deref()
        .and_then(ChannelState::from_name)
        .unwrap_or(ChannelState::Running);
    if state != ChannelState::Running {
        tracing::info!(
            channel,
            state = state.as_str(),
            "Channel starts as an administrator left it."
        );
    }
    Ok(state)
}

/// Plugin instances the pool keeps beside the workers' own, for loading
/// and checking versions: hot swaps, uploads, a reload's checks.
const SPARE_INSTANCES: usize = 16;

/// How many plugin instances `config`'s workers hold: every stage of every
/// partition keeps one.
fn worker_instances(config: &Config) -> usize {
    config
        .channels
        .iter()
        .map(|c| c.pipeline.len() * c.partitions as usize)
        .sum()
}

/// Refuses a configuration whose workers would hold more plugin instances
/// than `registry`'s pool, sized at start, has room for beside its spare
/// ones; or that has pipelines when the engine started without any (and
/// so without a registry).
///
/// # Errors
/// What the pipelines need and what the pool holds.
pub fn check_plugin_room(config: &Config, registry: Option<&PluginRegistry>) -> Result<(), String> {
    let needed = worker_instances(config);
    let Some(registry) = registry else {
        return match needed {
            0 => Ok(()),
            _ => Err(
                "the first channel with a pipeline (the engine started without plugins, \
                      so it has no plugin registry)"
                    .into(),
            ),
        };
    };
    let room = (registry.max_instances() as usize).saturating_sub(SPARE_INSTANCES);
    if needed <= room {
        return Ok(());
    }
    Err(format!(
        "the channels' pipelines ({needed} plugin instances, one per stage and partition; \
         the plugin pool was sized at start with room for {room})"
    ))
}

/// Opens the plugin registry with the bundled plugins and the plugin
/// directory's, when any channel has a pipeline.
fn open_registry(
    config: &Config,
    metrics: &Metrics,
) -> anyhow::Result<Option<Arc<PluginRegistry>>> {
    if config.channels.iter().all(|c| c.pipeline.is_empty()) {
        return Ok(None);
    }
    let settings = EngineSettings {
        max_instances: u32::try_from(worker_instances(config) + SPARE_INSTANCES)
            .unwrap_or(u32::MAX)
            .max(64),
        ..EngineSettings::default()
    };
    let engine = PluginEngine::new(&settings).context("cannot start the Wasm engine")?;
    let plugins = &config.plugins;
    let registry = PluginRegistry::open(
        &engine,
        &plugins.dir,
        &plugins.cache_dir,
        PluginLimits {
            deadline_ms: plugins.load_deadline_ms,
            ..PluginLimits::default()
        },
    )
    .with_context(|| format!("cannot open the plugin directory {}", plugins.dir.display()))?;
    if let Some(keys) = plugins.signing() {
        registry.set_signing(Some(keys));
    }
    for (name, bytes) in bundled::PLUGINS {
        registry
            .add_bundled(bytes)
            .with_context(|| format!("the bundled plugin {name} does not load"))?;
    }
    for refused in registry.scan() {
        metrics
            .plugin_files_refused
            .get_or_create(&Vec::new())
            .inc();
        tracing::error!(path = %refused.path.display(), error = %refused.error, "Plugin refused.");
    }
    Ok(Some(Arc::new(registry)))
}

fn resolve_stages(
    config: &Config,
    channel: &ChannelConfig,
    registry: Option<&PluginRegistry>,
) -> anyhow::Result<Vec<Stage>> {
    let lookups = config.lookup_tables();
    let mut stages = Vec::new();
    for (index, stage) in channel.pipeline.iter().enumerate() {
        let at = || format!("channel \"{}\", pipeline[{index}]", channel.name);
        let Some(registry) = registry else {
            bail!(
                "{}: the engine started without plugins; restart it to add the first channel with a pipeline",
                at()
            );
        };
        let Some(version) = registry.resolve(&stage.plugin, &stage.version) else {
            bail!(
                "{}: plugin {:?} version {:?} is not loaded (bundled: {}; plugin directory: {})",
                at(),
                stage.plugin,
                stage.version,
                bundled::names().join(", "),
                display(&config.plugins.dir)
            );
        };
        let settings = Arc::new(StageSettings {
            limits: PluginLimits {
                deadline_ms: stage.deadline_ms,
                ..PluginLimits::default()
            },
            config_json: stage.config_json(),
            lookups: lookups.clone(),
            policy: InstancePolicy {
                isolation: stage.isolation,
                ..InstancePolicy::default()
            },
        });
        PluginWorker::new(version.clone(), settings.clone())
            .warm_up()
            .map_err(|failure| {
                anyhow::anyhow!("{}: {} does not start: {failure}", at(), version.label())
            })?;
        stages.push(Stage { version, settings });
    }
    Ok(stages)
}

fn target(config: &Config, channel: &ChannelConfig, to: &TargetConfig) -> anyhow::Result<Target> {
    Ok(match to {
        TargetConfig::Channel(target) => {
            let Some(to) = config.channel(&target.channel) else {
                bail!("channel {:?} does not exist", target.channel);
            };
            debug_assert_ne!(to.name, channel.name, "checked by the config loader");
            Target::Channel(Arc::new(to.clone()))
        }
        other => Target::Connector(Box::new(Connector::new(other)?)),
    })
}

/// Checks a destination's TLS files as its connector reads them: builds
/// one, summarises the client certificate and digests every file.
fn tls_check(to: TargetConfig) -> ClientCheck {
    Box::new(move || {
        Connector::new(&to).map_err(|error| error.to_string())?;
        let certificate = to
            .client_certificate_file()
            .map(CertificateSummary::of_file)
            .transpose()
            .map_err(|error| error.to_string())?;
        let mut digest = Sha256::new();
        for file in to.reloadable_files() {
            let bytes = std::fs::read(file)
                .map_err(|error| format!("cannot read {}: {error}", file.display()))?;
            digest.update((bytes.len() as u64).to_le_bytes());
            digest.update(bytes);
        }
        Ok(ClientState {
            certificate,
            digest: digest.finalize().into(),
        })
    })
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
