//! The running engine: opens the store, starts the processing side
//! (pipelines, delivery, pruning) and the admin API, binds one listener per
//! channel and shuts everything down cleanly.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::admin::{AdminApi, AdminState, RateSamples, refresh_queue_gauges, sample_rates};
use crate::alerting::{AlertsConfig, Evaluator, Webhook};
use crate::alerts::Alerts;
use crate::config::{ChannelConfig, Config, LiveSettings};
use crate::events::TlsReloaded;
use crate::ingest::AckIds;
use crate::logging::AUDIT_TARGET;
use crate::metrics::Metrics;
use crate::pipeline::{ChannelPipeline, Shared, Wakers, plugin_watch, prepare_start, pruner};
use crate::plugin::PluginRegistry;
use crate::running::{ChannelContext, Channels, ReloadError, ReloadReport};
use crate::store::{DeadLetterFilter, Requeued, Store, StoreError, StoredMessage};
use crate::tls::{TlsFiles, TlsReload};

/// A started engine.
pub struct Server {
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
    /// The channels, as they run now.
    pub channels: Arc<Channels>,
    admin: Option<AdminApi>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl Server {
    /// Opens the store, starts the processing side and every channel's
    /// source.
    ///
    /// The admin API (when `[admin]` enables it) starts after the channels
    /// and reports ready at once.
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
        // Each channel gets its signals as it starts.
        let wakers = Arc::new(Wakers::default());
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let alerts = Arc::new(alerts(&config.alerts, &shutdown, &mut tasks)?);
        let tls = Arc::new(TlsFiles::default());
        let settings = Arc::new(LiveSettings::new(&config));
        let shared = Shared {
            store: store.clone(),
            wakers: wakers.clone(),
            metrics: metrics.clone(),
            alerts: alerts.clone(),
            tls: tls.clone(),
            settings: settings.clone(),
            shutdown: shutdown.clone(),
        };
        let registry = prepare_start(&config, &store, &metrics)?;
        let context = ChannelContext {
            shared,
            registry: registry.clone(),
            ack_ids: Arc::new(AckIds::new()),
        };
        // On an error below, cancelling the shutdown signal stops the
        // channels already started, and dropping `tasks` aborts the rest.
        let channels = match Channels::start(config.clone(), context).await {
            Ok(channels) => Arc::new(channels),
            Err(error) => {
                shutdown.cancel();
                return Err(error);
            }
        };
        tasks.spawn(pruner::run(
            store.clone(),
            config.storage.clone(),
            shutdown.clone(),
        ));
        let interval = config.plugins.watch_interval_ms;
        if let Some(registry) = &registry
            && interval > 0
        {
            let live = channels.clone();
            tasks.spawn(plugin_watch::run(
                registry.clone(),
                config.plugins.dir.clone(),
                Box::new(move || live.current().pipelines.values().cloned().collect()),
                metrics.clone(),
                std::time::Duration::from_millis(interval),
                shutdown.clone(),
            ));
        }
        let admin = if config.admin.enabled {
            let state = Arc::new(AdminState {
                store: store.clone(),
                wakers: wakers.clone(),
                metrics: metrics.clone(),
                alerts: alerts.clone(),
                registry: registry.clone(),
                channels: channels.clone(),
                settings: config.admin.clone(),
                live: settings.clone(),
                ready: false.into(),
                rates: RateSamples::default(),
                tls: tls.clone(),
            });
            tasks.spawn(sample_rates(state.clone(), shutdown.clone()));
            tasks.spawn(refresh_queue_gauges(state.clone(), shutdown.clone()));
            match AdminApi::start(state, &shutdown, &mut tasks).await {
                Ok(admin) => Some(admin),
                Err(error) => {
                    shutdown.cancel();
                    channels.finish().await;
                    return Err(error);
                }
            }
        } else {
            None
        };
        // The evaluator starts once every listener's TLS is loaded, so its
        // first round sees each certificate.
        let evaluator = Evaluator::new(
            settings,
            channels.clone(),
            store.clone(),
            metrics.clone(),
            alerts.clone(),
            tls.clone(),
        );
        tasks.spawn(evaluator.run(shutdown.clone()));
        if let Some(admin) = &admin {
            admin.state.set_ready(true);
        }
        Ok(Server {
            store,
            metrics,
            alerts,
            wakers,
            registry,
            tls,
            channels,
            admin,
            shutdown,
            tasks,
        })
    }

    /// Reads the configuration file again and applies what changed in its
    /// channels (see [`Channels::reload`]); logs the outcome.
    ///
    /// # Errors
    /// As [`Channels::reload`].
    pub async fn reload_config(&self) -> Result<ReloadReport, ReloadError> {
        reload_config(&self.channels, &self.metrics).await
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
        let channels = self.channels.current();
        reprocess_dead_letters(&self.store, &self.wakers, &channels.configs, filter)
    }

    /// Reads every TLS listener's files again (see [`reload_tls`]).
    pub fn reload_tls(&self) -> Vec<TlsReload> {
        reload_tls(&self.tls, &self.metrics)
    }

    /// The processing side of `channel`: its stages (swappable), routes
    /// and workers' shared state.
    pub fn pipeline(&self, channel: &str) -> Option<Arc<ChannelPipeline>> {
        self.channels.current().pipelines.get(channel).cloned()
    }

    /// The address of `channel`'s listener.
    pub fn address(&self, channel: &str) -> Option<SocketAddr> {
        self.channels.current().addresses.get(channel).copied()
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
        self.channels.finish().await;
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Reloads `channels`' configuration file (see [`Channels::reload`]),
/// logs what changed, or why nothing did, on the audit target, and counts
/// the result.
///
/// # Errors
/// As [`Channels::reload`].
pub async fn reload_config(
    channels: &Channels,
    metrics: &Metrics,
) -> Result<ReloadReport, ReloadError> {
    let result = channels.reload().await;
    let outcome = match &result {
        Ok(report) if report.changed_nothing() => "unchanged",
        Ok(_) => "applied",
        Err(error) => error.code(),
    };
    let labels = vec![("result", outcome.to_string())];
    metrics.config_reloads.get_or_create(&labels).inc();
    match &result {
        Ok(report) => tracing::info!(
            target: AUDIT_TARGET,
            started = ?report.started,
            restarted = ?report.restarted,
            stopped = ?report.stopped,
            unchanged = report.unchanged.len(),
            settings = ?report.settings,
            "Configuration reloaded."
        ),
        Err(ReloadError::NoFile) => tracing::info!("No configuration file to reload."),
        Err(error) => tracing::error!(target: AUDIT_TARGET, %error, "Configuration reload failed."),
    }
    result
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
    let Some((webhook, posting)) = Webhook::of(config, shutdown)? else {
        return Ok(Alerts::new());
    };
    tasks.spawn(posting);
    Ok(Alerts::with_notifier(Box::new(webhook)))
}
