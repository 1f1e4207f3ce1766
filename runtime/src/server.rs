//! The running engine: opens the store, binds one listener per channel and
//! shuts everything down cleanly.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, SourceConfig};
use crate::ingest::{AckIds, ChannelRuntime, Listener};
use crate::metrics::Metrics;
use crate::store::Store;

/// A started engine.
pub struct Server {
    /// The address each channel listens on, by channel name (useful when the
    /// config asked for port 0).
    pub addresses: BTreeMap<String, SocketAddr>,
    /// The store.
    pub store: Store,
    /// The engine's metrics.
    pub metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl Server {
    /// Opens the store and starts every channel's listener.
    ///
    /// # Errors
    /// When the store cannot be opened, a listener cannot bind, or a TLS
    /// setting cannot be loaded; the error names the channel.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let store = Store::open(&config.storage.dir, config.storage.store_settings())
            .with_context(|| {
                format!("cannot open the store in {}", config.storage.dir.display())
            })?;
        let metrics = Arc::new(Metrics::new());
        let ack_ids = Arc::new(AckIds::new());
        let shutdown = CancellationToken::new();
        let mut addresses = BTreeMap::new();
        let mut tasks = JoinSet::new();
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
            shutdown,
            tasks,
        })
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
