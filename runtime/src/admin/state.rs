//! What the admin API's handlers share: the engine's store, wakers,
//! metrics, alerts and plugin registry, the configuration, the counter
//! samples rates come from, and the listeners' TLS configurations.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::ApiError;
use super::rates::RateSamples;
use crate::alerts::Alerts;
use crate::config::{AdminConfig, ChannelConfig, LiveSettings};
use crate::metrics::Metrics;
use crate::pipeline::{ChannelPipeline, Wakers};
use crate::plugin::PluginRegistry;
use crate::running::{ChannelSet, Channels};
use crate::store::Store;
use crate::tls::TlsFiles;

/// The engine as the admin API sees it.
pub struct AdminState {
    /// The store.
    pub store: Store,
    /// The workers' wake-up signals, for reprocessing.
    pub wakers: Arc<Wakers>,
    /// The engine's metrics.
    pub metrics: Arc<Metrics>,
    /// The active alerts.
    pub alerts: Arc<Alerts>,
    /// The plugin registry, when a channel has a pipeline.
    pub registry: Option<Arc<PluginRegistry>>,
    /// The channels as they run now: configurations, pipelines (for
    /// swapping plugin versions), the configuration as shown; and their
    /// reload.
    pub channels: Arc<Channels>,
    /// The `[admin]` section as at start: where and how the API serves.
    /// Callers are authenticated by `live`, which a reload changes.
    pub settings: AdminConfig,
    /// The credentials (and alert rules) as they are now.
    pub live: Arc<LiveSettings>,
    /// Whether every channel is listening; `GET /api/v1/ready` reports it.
    pub ready: AtomicBool,
    /// The last minute's counter samples, for each channel's rates.
    pub rates: RateSamples,
    /// The TLS configurations of the engine's listeners, for reloads.
    pub tls: Arc<TlsFiles>,
}

impl AdminState {
    /// The channels as they run now.
    pub fn channel_set(&self) -> Arc<ChannelSet> {
        self.channels.current()
    }

    /// The channel named `name`, as it runs now.
    ///
    /// # Errors
    /// 404 when there is none.
    pub fn channel(&self, name: &str) -> Result<ChannelConfig, ApiError> {
        self.channel_set()
            .channel(name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("channel {name:?}")))
    }

    /// The pipeline of channel `name`, as it runs now.
    ///
    /// # Errors
    /// 404 when there is none.
    pub fn pipeline(&self, name: &str) -> Result<Arc<ChannelPipeline>, ApiError> {
        self.channel_set()
            .pipelines
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("channel {name:?}")))
    }

    /// Marks the engine ready (or not) for `GET /api/v1/ready`.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether the engine is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Runs `work` on a blocking thread: store scans and plugin compiles
    /// must not hold up the async workers that move messages.
    ///
    /// # Errors
    /// What `work` returns, or 500 when it panicked.
    pub async fn blocking<T, F>(self: &Arc<Self>, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&AdminState) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&state))
            .await
            .map_err(|e| ApiError::internal(format!("the request's task failed: {e}")))?
    }
}
