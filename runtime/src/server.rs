//! The running engine: opens the store, starts the processing side
//! (pipelines, delivery, pruning), binds one listener per channel and shuts
//! everything down cleanly.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::alerts::Alerts;
use crate::config::{Config, SourceConfig};
use crate::ingest::{AckIds, ChannelRuntime, Listener};
use crate::metrics::Metrics;
use crate::pipeline::{Shared, Topology, Wakers, pruner};
use crate::plugin::PluginRegistry;
use crate::store::{DeadLetterFilter, Requeued, Store, StoreError};

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
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl Server {
    /// Opens the store, starts the processing side and every channel's
    /// listener.
    ///
    /// # Errors
    /// When the store cannot be opened, a plugin or destination cannot
    /// start, a listener cannot bind, or a TLS setting cannot be loaded; the
    /// error names the channel.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let store = Store::open(&config.storage.dir, config.storage.store_settings())
            .with_context(|| {
                format!("cannot open the store in {}", config.storage.dir.display())
            })?;
        let metrics = Arc::new(Metrics::new());
        let alerts = Arc::new(Alerts::new());
        let wakers = Arc::new(Wakers::new(&config));
        let ack_ids = Arc::new(AckIds::new());
        let shutdown = CancellationToken::new();
        let mut addresses = BTreeMap::new();
        let mut tasks = JoinSet::new();
        let shared = Shared {
            store: store.clone(),
            wakers: wakers.clone(),
            metrics: metrics.clone(),
            alerts: alerts.clone(),
            shutdown: shutdown.clone(),
        };
        // On an error below, dropping `tasks` aborts the workers already
        // spawned.
        let topology = Topology::start(&config, &shared, &mut tasks)?;
        tasks.spawn(pruner::run(
            store.clone(),
            config.storage.clone(),
            shutdown.clone(),
        ));
        for channel in config.channels {
            let SourceConfig::Mllp(source) = channel.source.clone();
            let listen = source.listen_address().map_err(anyhow::Error::msg)?;
            let name = channel.name.clone();
            let runtime = Arc::new(ChannelRuntime {
                name: name.clone(),
                config: channel,
                limits: source.limits,
                mllp_release2: source.mllp_release2,
                store: store.clone(),
                metrics: metrics.clone(),
                wakers: wakers.clone(),
                ack_ids: ack_ids.clone(),
                shutdown: shutdown.child_token(),
            });
            let listener =
                Listener::bind(runtime, listen, source.tls.as_ref(), source.max_connections)
                    .await
                    .with_context(|| {
                        format!("channel \"{name}\": cannot start its MLLP listener on {listen}")
                    })?;
            addresses.insert(name, listener.local_addr());
            tasks.spawn(listener.run());
        }
        Ok(Server {
            addresses,
            store,
            metrics,
            alerts,
            wakers,
            registry: topology.registry,
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
        let requeued = self.store.reprocess_dead_letters(filter)?;
        for entry in &requeued {
            match &entry.destination {
                Some(destination) => {
                    self.wakers
                        .wake_outbound(&entry.channel, destination, entry.partition);
                }
                None => self.wakers.wake_inbound(&entry.channel, entry.partition),
            }
        }
        Ok(requeued)
    }

    /// The address of `channel`'s listener.
    pub fn address(&self, channel: &str) -> Option<SocketAddr> {
        self.addresses.get(channel).copied()
    }

    /// Stops accepting, lets in-flight messages finish, and waits.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}
