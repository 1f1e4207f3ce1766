//! What a channel's pipeline and delivery workers share.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::active::ActiveStages;
use super::control::ChannelControl;
use super::router::Route;
use super::wakers::Wakers;
use crate::alerts::Alerts;
use crate::config::{ChannelConfig, LiveSettings};
use crate::metrics::Metrics;
use crate::store::{DeadLetterFilter, Store};
use crate::tls::TlsFiles;

/// The alert kind for a deep dead-letter queue.
pub const DEAD_LETTER_ALERT: &str = "dead_letter_depth";

/// How often the dead-letter depth is checked besides after each dead
/// letter, so that reprocessing and purging clear the alert.
const DEAD_LETTER_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// One channel's processing side.
pub struct ChannelPipeline {
    /// The channel's configuration.
    pub config: ChannelConfig,
    /// Its plugin stages, resolved to versions; swappable.
    pub stages: ActiveStages,
    /// Its destinations, for routing.
    pub routes: Vec<Route>,
    /// The store.
    pub store: Store,
    /// Wake-up signals.
    pub wakers: Arc<Wakers>,
    /// The engine's metrics.
    pub metrics: Arc<Metrics>,
    /// The engine's alerts.
    pub alerts: Arc<Alerts>,
    /// The engine's TLS files: a reload makes destinations build their
    /// connectors again.
    pub tls: Arc<TlsFiles>,
    /// The alert rules as they are now: the dead-letter threshold.
    pub settings: Arc<LiveSettings>,
    /// Running, paused or stopped, as an administrator set it; shared
    /// with the channel's listener.
    pub control: Arc<ChannelControl>,
    /// Cancelled when the engine shuts down.
    pub shutdown: CancellationToken,
}

impl ChannelPipeline {
    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Waits until the channel runs; `false` when the engine shuts down
    /// first. Workers call it before each batch.
    pub async fn runs(&self) -> bool {
        tokio::select! {
            () = self.control.running() => true,
            () = self.shutdown.cancelled() => false,
        }
    }

    /// A dead-letter queue deeper than this raises an alert: `[alerts]
    /// dead_letter_max_depth`, or the channel's `dead_letter_alert`.
    pub fn dead_letter_threshold(&self) -> u64 {
        let alerts = self.settings.alerts();
        alerts.dead_letter_threshold(self.config.dead_letter_alert)
    }

    /// Raises or clears the dead-letter depth alert.
    pub fn check_dead_letters(&self) {
        check_dead_letters(
            &self.store,
            &self.alerts,
            self.name(),
            self.dead_letter_threshold(),
        );
    }

    /// Checks the dead-letter depth now and then every few seconds, until
    /// the engine shuts down.
    pub async fn watch_dead_letters(self: Arc<Self>) {
        loop {
            let pipeline = Arc::clone(&self);
            tokio::task::spawn_blocking(move || pipeline.check_dead_letters())
                .await
                .expect("dead-letter check panicked");
            tokio::select! {
                () = tokio::time::sleep(DEAD_LETTER_CHECK_INTERVAL) => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }
}

/// Raises the dead-letter alert of `channel` when its queue is deeper than
/// `threshold`, and clears it otherwise.
pub fn check_dead_letters(store: &Store, alerts: &Alerts, channel: &str, threshold: u64) {
    let filter = DeadLetterFilter {
        channel: Some(channel.to_string()),
        ..DeadLetterFilter::default()
    };
    match store.dead_letter_count(&filter) {
        Ok(depth) if depth as u64 > threshold => alerts.raise(
            DEAD_LETTER_ALERT,
            channel,
            format!("{depth} dead letters (threshold {threshold})"),
        ),
        Ok(_) => alerts.clear(DEAD_LETTER_ALERT, channel),
        Err(error) => tracing::warn!(channel, %error, "Dead letters not counted."),
    }
}
