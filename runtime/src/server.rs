//! The running engine: opens the store, starts the processing side
//! (pipelines, delivery, pruning) and the admin API, binds one listener per
//! channel and shuts everything down cleanly.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::admin::{
    AdminApi, AdminState, RateSamples, redacted, refresh_queue_gauges, sample_rates,
};
use crate::alerting::{AlertsConfig, Evaluator, Webhook};
use crate::alerts::Alerts;
use crate::config::{ChannelConfig, Config, SourceConfig};
use crate::events::TlsReloaded;
use crate::ingest::{AckIds, ChannelRuntime, FileReader, HttpSource, Listener};
use crate::metrics::Metrics;
use crate::pipeline::{ChannelPipeline, Shared, Topology, Wakers, pruner};
use crate::plugin::PluginRegistry;
use crate::store::{DeadLetterFilter, Requeued, Store, StoreError, StoredMessage};
use crate::tls::{TlsEndpoint, TlsFiles, TlsReload};

/// A started engine.
pub struct Server {
    /// The address each channel listens on, by channel name (useful when the
    /// config asked for port 0).
    pub addresses: BTreeMap<String, SocketAddr>,
    /// The store.
    pub store: Store,
    /// The engine's metrics.
    pub metrics: Arc<Metrics>,
    /// The active alerts.
    pub alerts: Arc<Alerts>,
    /// Wake-up signals of the workers (for waking them after an
    /// administrator requeued messages).
    pub wakers: Arc<Wakers>,
    /// The plugin registry, when a channel has plugins.
    pub registry: Option<Arc<PluginRegistry>>,
    /// The TLS configurations of the listeners that serve TLS.
    pub tls: Arc<TlsFiles>,
    channels: Vec<ChannelConfig>,
    pipelines: BTreeMap<String, Arc<ChannelPipeline>>,
    admin: Option<AdminApi>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl Server {
    /// Opens the store, starts the processing side and every channel's
    /// listener.
    ///
    /// The admin API (when `[admin]` enables it) starts before the channels'
    /// listeners and reports ready once they all listen.
    ///
    /// # Errors
    /// When the store cannot be opened, a plugin or destination cannot
    /// start, a listener cannot bind, or a TLS setting cannot be loaded; the
    /// error names the channel, or the `admin` key.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let store = Store::open(&config.storage.dir, config.storage.store_settings())
            .with_context(|| {
                format!("cannot open the store in {}", config.storage.dir.display())
            })?;
        let metrics = Arc::new(Metrics::new());
        let wakers = Arc::new(Wakers::new(&config));
        let ack_ids = Arc::new(AckIds::new());
        let shutdown = CancellationToken::new();
        let mut addresses = BTreeMap::new();
        let mut tasks = JoinSet::new();
        let alerts = Arc::new(alerts(&config.alerts, &shutdown, &mut tasks)?);
        let tls = Arc::new(TlsFiles::default());
        let shared = Shared {
            store: store.clone(),
            wakers: wakers.clone(),
            metrics: metrics.clone(),
            alerts: alerts.clone(),
            tls: tls.clone(),
            shutdown: shutdown.clone(),
        };
        // On an error below, dropping `tasks` aborts the workers already
        // spawned.
        let topology = Topology::start(&config, &shared, &mut tasks)?;
        let pipelines: BTreeMap<String, Arc<ChannelPipeline>> = topology
            .channels
            .iter()
            .map(|pipeline| (pipeline.name().to_string(), pipeline.clone()))
            .collect();
        tasks.spawn(pruner::run(
            store.clone(),
            config.storage.clone(),
            shutdown.clone(),
        ));
        let evaluator = Evaluator::new(
            config.alerts.clone(),
            config.channels.clone(),
            store.clone(),
            metrics.clone(),
            alerts.clone(),
            tls.clone(),
        );
        let admin = if config.admin.enabled {
            let state = admin_state(&config, &shared, &topology.registry, &pipelines, &tls);
            tasks.spawn(sample_rates(state.clone(), shutdown.clone()));
            tasks.spawn(refresh_queue_gauges(state.clone(), shutdown.clone()));
            Some(AdminApi::start(state, &shutdown, &mut tasks).await?)
        } else {
            None
        };
        for channel in config.channels.clone() {
            let name = channel.name.clone();
            let profile = config.profile_for(&channel).map_err(anyhow::Error::msg)?;
            let source = channel.source.clone();
            let source_tls = source
                .tls()
                .map(|settings| tls.load(TlsEndpoint::Channel(name.clone()), settings))
                .transpose()
                .with_context(|| format!("channel \"{name}\": key source.tls"))?;
            let runtime = Arc::new(ChannelRuntime {
                name: name.clone(),
                config: channel,
                profile,
                limits: source.limits(),
                mllp_release2: matches!(&source, SourceConfig::Mllp(mllp) if mllp.mllp_release2),
                store: store.clone(),
                metrics: metrics.clone(),
                wakers: wakers.clone(),
                ack_ids: ack_ids.clone(),
                control: pipelines[&name].control.clone(),
                shutdown: shutdown.child_token(),
            });
            match source {
                SourceConfig::Mllp(source) => {
                    let listen = source.listen_address().map_err(anyhow::Error::msg)?;
                    let listener =
                        Listener::bind(runtime, listen, source_tls, source.max_connections)
                            .await
                            .with_context(|| {
                                format!(
                                    "channel \"{name}\": cannot start its MLLP listener on {listen}"
                                )
                            })?;
                    addresses.insert(name, listener.local_addr());
                    tasks.spawn(listener.run());
                }
                SourceConfig::Http(source) => {
                    let http = HttpSource::bind(runtime, &source, source_tls)
                        .await
                        .with_context(|| {
                            format!("channel \"{name}\": cannot start its HTTP source")
                        })?;
                    addresses.insert(name, http.local_addr());
                    tasks.spawn(http.run());
                }
                SourceConfig::File(source) => {
                    let reader = FileReader::new(runtime, source).with_context(|| {
                        format!("channel \"{name}\": cannot start its file source")
                    })?;
                    tasks.spawn(reader.run());
                }
            }
        }
        // The evaluator starts once every listener's TLS is loaded, so its
        // first round sees each certificate.
        tasks.spawn(evaluator.run(shutdown.clone()));
        if let Some(admin) = &admin {
            admin.state.set_ready(true);
        }
        Ok(Server {
            addresses,
            store,
            metrics,
            alerts,
            wakers,
            registry: topology.registry,
            tls,
            channels: config.channels,
            pipelines,
            admin,
            shutdown,
            tasks,
        })
    }

    /// Puts the dead letters `filter` matches back in their queues (see
    /// [`Store::reprocess_dead_letters`]) and wakes the workers concerned.
    ///
    /// # Errors
    /// When storage fails; entries requeued before the failure stay
    /// requeued.
    pub fn reprocess_dead_letters(
        &self,
        filter: &DeadLetterFilter,
    ) -> Result<Vec<Requeued>, StoreError> {
        reprocess_dead_letters(&self.store, &self.wakers, &self.channels, filter)
    }

    /// Reads every TLS listener's files again (see [`reload_tls`]).
    pub fn reload_tls(&self) -> Vec<TlsReload> {
        reload_tls(&self.tls, &self.metrics)
    }

    /// The processing side of `channel`: its stages (swappable), routes
    /// and workers' shared state.
    pub fn pipeline(&self, channel: &str) -> Option<&Arc<ChannelPipeline>> {
        self.pipelines.get(channel)
    }

    /// The address of `channel`'s listener.
    pub fn address(&self, channel: &str) -> Option<SocketAddr> {
        self.addresses.get(channel).copied()
    }

    /// The address of the admin API, when it runs.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|admin| admin.address)
    }

    /// Stops accepting, lets in-flight messages and admin requests finish,
    /// and waits.
    pub async fn shutdown(mut self) {
        if let Some(admin) = &self.admin {
            admin.state.set_ready(false);
        }
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Reads every TLS listener's certificate, key and client CA files again:
/// new connections get what loaded, open ones keep theirs, and a listener
/// whose files do not load keeps what it had. Each outcome is logged on the
/// audit target and counted.
pub fn reload_tls(listeners: &TlsFiles, metrics: &Metrics) -> Vec<TlsReload> {
    let reloads = listeners.reload();
    for reload in &reloads {
        TlsReloaded { reload }.emit(metrics);
    }
    reloads
}

/// Puts the dead letters `filter` matches back in their queues (see
/// [`Store::reprocess_dead_letters`]), each in the partition its message
/// belongs to under `channels`' partitioning now, and wakes the workers
/// concerned. Letters of a channel or destination not in `channels` stay:
/// no worker would take them.
///
/// # Errors
/// When storage fails; entries requeued before the failure stay requeued.
pub fn reprocess_dead_letters(
    store: &Store,
    wakers: &Wakers,
    channels: &[ChannelConfig],
    filter: &DeadLetterFilter,
) -> Result<Vec<Requeued>, StoreError> {
    let requeued = store.reprocess_dead_letters(filter, |letter| {
        let header = &letter.header;
        let channel = channels.iter().find(|c| c.name == header.channel)?;
        if let Some(destination) = &header.destination {
            channel
                .destinations
                .iter()
                .find(|d| d.name == *destination)?;
        }
        if !channel.is_partitioned() {
            return Some(0);
        }
        Some(match &header.destination {
            // A pipeline's letter holds the message as received.
            None => channel.partition_of_raw(&letter.body),
            Some(_) => match store.message(header.message_id).ok().flatten() {
                Some(message) => channel.partition_of_raw(&message.raw),
                // No longer stored: a partition the channel has.
                None => header.partition % channel.partitions,
            },
        })
    })?;
    for entry in &requeued {
        match &entry.destination {
            Some(destination) => wakers.wake_outbound(&entry.channel, destination, entry.partition),
            None => wakers.wake_inbound(&entry.channel, entry.partition),
        }
    }
    Ok(requeued)
}

/// Queues the stored `messages` that are through the pipeline again (see
/// [`Store::reprocess_messages`]), each in the partition it belongs to
/// under `channels`' partitioning now, and wakes their partitions'
/// workers; returns the ids queued. Messages of a channel not in
/// `channels` are left alone.
///
/// # Errors
/// When storage fails; messages queued before the failure stay queued.
pub fn reprocess_messages(
    store: &Store,
    wakers: &Wakers,
    channels: &[ChannelConfig],
    messages: &[StoredMessage],
) -> Result<Vec<u64>, StoreError> {
    let placed: Vec<(&StoredMessage, u32)> = messages
        .iter()
        .filter_map(|message| {
            let channel = channels.iter().find(|c| c.name == message.channel)?;
            Some((message, channel.partition_of_raw(&message.raw)))
        })
        .collect();
    let requeued = store.reprocess_messages(&placed)?;
    let partitions: BTreeSet<(&str, u32)> = placed
        .iter()
        .map(|(m, partition)| (m.channel.as_str(), *partition))
        .collect();
    for (channel, partition) in partitions {
        wakers.wake_inbound(channel, partition);
    }
    Ok(requeued)
}

/// The alert store, with the webhook's notifier and task when
/// `webhook_url` is set.
fn alerts(
    config: &AlertsConfig,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<Alerts> {
    let Some(url) = &config.webhook_url else {
        return Ok(Alerts::new());
    };
    let (webhook, post_all) = Webhook::start(url, config.webhook_timeout_secs, shutdown.clone())
        .context("key alerts.webhook_url: cannot build the webhook client")?;
    tasks.spawn(post_all);
    Ok(Alerts::with_notifier(Box::new(webhook)))
}

/// What the admin API shares with the engine; not ready until the
/// channels listen.
fn admin_state(
    config: &Config,
    shared: &Shared,
    registry: &Option<Arc<PluginRegistry>>,
    pipelines: &BTreeMap<String, Arc<ChannelPipeline>>,
    tls: &Arc<TlsFiles>,
) -> Arc<AdminState> {
    Arc::new(AdminState {
        store: shared.store.clone(),
        wakers: shared.wakers.clone(),
        metrics: shared.metrics.clone(),
        alerts: shared.alerts.clone(),
        registry: registry.clone(),
        channels: config.channels.clone(),
        pipelines: pipelines.clone(),
        settings: config.admin.clone(),
        config_view: redacted(&config.as_written),
        ready: false.into(),
        rates: RateSamples::default(),
        tls: tls.clone(),
    })
}
