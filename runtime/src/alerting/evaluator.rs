//! The periodic task that reads the metrics and the store, runs the rules
//! and raises or clears the alerts.
//!
//! Each evaluation takes a sample of every channel's counters and keeps the
//! samples of the last hour (or window, when longer). A rate over a span is
//! the growth since the oldest sample inside the span, or since the newest
//! sample when none is (an interval longer than the span).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::config::AlertsConfig;
use super::rules::{self, Baseline, Counts};
use crate::alerts::Alerts;
use crate::config::{ChannelConfig, LiveSettings};
use crate::deliver::TargetConfig;
use crate::hl7_input::now_unix_ms;
use crate::ingest::FileOutcome;
use crate::metrics::{self, Metrics, channel_and, destination_and};
use crate::pipeline::{ChannelState, DELIVERY_RESULTS};
use crate::running::Channels;
use crate::store::{Store, StoreError};
use crate::tls::TlsFiles;

/// The TLS failure rule counts over an hour.
const HOUR_MS: u64 = 3_600_000;

/// Every ACK code the listener sends.
const ACK_CODES: [&str; 6] = ["AA", "AE", "AR", "CA", "CE", "CR"];

/// Every channel's counters at one moment.
struct Sample {
    at_ms: u64,
    counts: BTreeMap<String, Counts>,
}

/// Evaluates the rules every `interval_secs`.
pub struct Evaluator {
    settings: Arc<LiveSettings>,
    /// The rules of the round under way, taken from `settings` as it
    /// begins.
    config: Arc<AlertsConfig>,
    channels: Arc<Channels>,
    store: Store,
    metrics: Arc<Metrics>,
    alerts: Arc<Alerts>,
    tls: Arc<TlsFiles>,
    history: VecDeque<Sample>,
    baselines: BTreeMap<String, Baseline>,
    /// Per channel, its frame count when it last grew and when that was
    /// seen (at first, the engine's start).
    last_frames: BTreeMap<String, (u64, u64)>,
}

impl Evaluator {
    /// An evaluator of `channels` and the TLS listeners in `tls` under
    /// the alert rules of `settings`, which a reload may change.
    pub fn new(
        settings: Arc<LiveSettings>,
        channels: Arc<Channels>,
        store: Store,
        metrics: Arc<Metrics>,
        alerts: Arc<Alerts>,
        tls: Arc<TlsFiles>,
    ) -> Self {
        Evaluator {
            config: settings.alerts(),
            settings,
            channels,
            store,
            metrics,
            alerts,
            tls,
            history: VecDeque::new(),
            baselines: BTreeMap::new(),
            last_frames: BTreeMap::new(),
        }
    }

    /// Evaluates now and then every interval, until `shutdown`. A reload
    /// that changes the interval starts it again, at its new length.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut rules = self.settings.watch_alerts();
        let mut ticks = every(self.config.interval_secs, tokio::time::Instant::now());
        loop {
            tokio::select! {
                _ = ticks.tick() => self.evaluate().await,
                Ok(()) = rules.changed() => {
                    let seconds = rules.borrow_and_update().interval_secs;
                    if ticks.period() != Duration::from_secs(seconds) {
                        ticks = every(seconds, tokio::time::Instant::now() + Duration::from_secs(seconds));
                    }
                }
                () = shutdown.cancelled() => return,
            }
        }
    }

    async fn evaluate(&mut self) {
        self.config = self.settings.alerts();
        let sample = Sample {
            at_ms: now_unix_ms(),
            counts: self
                .channels
                .current()
                .configs
                .iter()
                .map(|channel| (channel.name.clone(), read_counts(&self.metrics, channel)))
                .collect(),
        };
        if !self.history.is_empty() {
            self.judge_counters(&sample);
        }
        self.judge_silence(&sample).await;
        self.remember(sample);
        self.judge_queue_ages().await;
        self.judge_storage_space();
        self.judge_certificates();
        self.judge_plugin_signatures();
    }

    /// Raises `plugin_untrusted` while loaded plugin versions fail the
    /// signing policy in force.
    fn judge_plugin_signatures(&self) {
        let untrusted = self
            .channels
            .registry()
            .map(|registry| registry.untrusted())
            .unwrap_or_default();
        let verdict = rules::plugin_untrusted(&untrusted);
        apply(&self.alerts, rules::PLUGIN_UNTRUSTED, "", verdict);
    }

    /// Runs the certificate expiry rule on every certificate the engine
    /// presents and sets the expiry gauges. A channel's alert holds the
    /// texts of all its certificates that end soon (its listener's and its
    /// destinations').
    fn judge_certificates(&self) {
        let now_secs = i64::try_from(now_unix_ms() / 1000).unwrap_or(i64::MAX);
        let mut verdicts: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (endpoint, certificate) in self.tls.certificates() {
            self.metrics
                .tls_certificate_expiry
                .get_or_create(&vec![("endpoint", endpoint.name())])
                .set(certificate.not_after_unix);
            let verdict = rules::certificate_expiry(
                &endpoint.to_string(),
                &certificate,
                now_secs,
                &self.config,
            );
            let texts = verdicts
                .entry(endpoint.alert_channel().to_owned())
                .or_default();
            texts.extend(verdict);
        }
        for (channel, texts) in verdicts {
            let verdict = (!texts.is_empty()).then(|| texts.join("; "));
            apply(&self.alerts, rules::CERTIFICATE_EXPIRY, &channel, verdict);
        }
    }

    /// Runs the storage space rule and sets the storage gauges.
    fn judge_storage_space(&self) {
        match self.store.disk_space() {
            Ok(space) => {
                let gauge = |bytes: u64| i64::try_from(bytes).unwrap_or(i64::MAX);
                let metrics = &self.metrics;
                metrics
                    .storage_available_bytes
                    .set(gauge(space.available_bytes));
                metrics.storage_total_bytes.set(gauge(space.total_bytes));
                let verdict = rules::storage_space(space, &self.config);
                apply(&self.alerts, rules::STORAGE_SPACE, "", verdict);
            }
            Err(error) => tracing::warn!(%error, "Storage space not read."),
        }
    }

    /// Runs the counter rules of every channel against the history.
    fn judge_counters(&mut self, sample: &Sample) {
        let window_ms = self.config.window_secs.saturating_mul(1000);
        let previous = self.history.back().expect("a sample before this one");
        let window_start = since(&self.history, window_ms, sample.at_ms);
        let hour_start = since(&self.history, HOUR_MS, sample.at_ms);
        for (channel, now) in &sample.counts {
            let growth = |earlier: &Sample| {
                now.since(earlier.counts.get(channel).unwrap_or(&Counts::default()))
            };
            let interval = growth(previous);
            let window = growth(window_start);
            let hour = growth(hour_start);
            let baseline = self.baselines.entry(channel.clone()).or_default();
            let volume = rules::inbound_volume(interval.frames, baseline, &self.config);
            baseline.observe(interval.frames, self.config.volume_baseline_intervals);
            let verdicts = [
                (rules::INBOUND_VOLUME, volume),
                (
                    rules::ACK_TIMEOUT_RATE,
                    rules::ack_timeout_rate(&window, &self.config),
                ),
                (
                    rules::ACK_REJECT_RATE,
                    rules::ack_reject_rate(&window, &self.config),
                ),
                (
                    rules::TLS_HANDSHAKE_FAILURES,
                    rules::tls_handshake_failures(&hour, &self.config),
                ),
                (
                    rules::REFUSED_FILES,
                    rules::refused_files(&window, &self.config),
                ),
            ];
            for (kind, verdict) in verdicts {
                apply(&self.alerts, kind, channel, verdict);
            }
        }
    }

    /// Runs the silence rule of every channel that sets
    /// `silence_alert_secs`, against when its frame count last grew; a
    /// channel an administrator stopped is silent on purpose, and clears.
    async fn judge_silence(&mut self, sample: &Sample) {
        let watched: Vec<(String, u64)> = self
            .channels
            .current()
            .configs
            .iter()
            .filter_map(|c| Some((c.name.clone(), c.silence_alert_secs?)))
            .collect();
        if watched.is_empty() {
            return;
        }
        let store = self.store.clone();
        let names: Vec<String> = watched.iter().map(|(name, _)| name.clone()).collect();
        let stopped = tokio::task::spawn_blocking(move || {
            names
                .into_iter()
                .map(|name| {
                    let state = store.channel_state(&name).ok().flatten();
                    state.as_deref().and_then(ChannelState::from_name)
                        == Some(ChannelState::Stopped)
                })
                .collect::<Vec<bool>>()
        })
        .await
        .expect("channel state read panicked");
        for ((channel, limit_secs), stopped) in watched.into_iter().zip(stopped) {
            let frames = sample.counts.get(&channel).map_or(0, |c| c.frames);
            let last = self
                .last_frames
                .entry(channel.clone())
                .or_insert((frames, sample.at_ms));
            if frames != last.0 {
                *last = (frames, sample.at_ms);
            }
            let verdict = if stopped {
                None
            } else {
                rules::inbound_silence(last.1, sample.at_ms, limit_secs)
            };
            apply(&self.alerts, rules::INBOUND_SILENCE, &channel, verdict);
        }
    }

    /// Keeps `sample` and forgets those older than every span.
    fn remember(&mut self, sample: Sample) {
        let keep_ms = HOUR_MS.max(self.config.window_secs.saturating_mul(1000));
        let start = sample.at_ms.saturating_sub(keep_ms);
        self.history.push_back(sample);
        while self.history.front().is_some_and(|s| s.at_ms < start) {
            self.history.pop_front();
        }
    }

    /// Runs the queue age rule of every channel against the store.
    async fn judge_queue_ages(&self) {
        let store = self.store.clone();
        let channels: Vec<(String, u32, Vec<String>)> = self
            .channels
            .current()
            .configs
            .iter()
            .map(|channel| {
                let destinations = channel.destinations.iter().map(|d| d.name.clone());
                (
                    channel.name.clone(),
                    channel.partitions,
                    destinations.collect(),
                )
            })
            .collect();
        let oldest = tokio::task::spawn_blocking(move || {
            channels
                .into_iter()
                .map(|(name, partitions, destinations)| {
                    let oldest = oldest_queued(&store, &name, partitions, &destinations);
                    (name, oldest)
                })
                .collect::<Vec<_>>()
        })
        .await
        .expect("queue age check panicked");
        let now_ms = now_unix_ms();
        for (channel, oldest) in oldest {
            match oldest {
                Ok(oldest) => apply(
                    &self.alerts,
                    rules::QUEUE_AGE,
                    &channel,
                    rules::queue_age(
                        oldest.as_ref().map(|(at, queue)| (*at, queue.as_str())),
                        now_ms,
                        &self.config,
                    ),
                ),
                Err(error) => tracing::warn!(channel, %error, "Queue age not read."),
            }
        }
    }
}

/// Ticks every `seconds`, from `start`; a late tick delays the next.
fn every(seconds: u64, start: tokio::time::Instant) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval_at(start, Duration::from_secs(seconds));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

/// The oldest sample of `history` taken within `span_ms` before `now_ms`,
/// or the newest when none is.
fn since(history: &VecDeque<Sample>, span_ms: u64, now_ms: u64) -> &Sample {
    let start = now_ms.saturating_sub(span_ms);
    history
        .iter()
        .find(|sample| sample.at_ms >= start)
        .or(history.back())
        .expect("a sample before this one")
}

/// Raises `kind` with the verdict's text, or clears it.
fn apply(alerts: &Alerts, kind: &'static str, channel: &str, verdict: Option<String>) {
    match verdict {
        Some(text) => alerts.raise(kind, channel, text),
        None => alerts.clear(kind, channel),
    }
}

/// A channel's counters now.
fn read_counts(metrics: &Metrics, channel: &ChannelConfig) -> Counts {
    let name = channel.name.as_str();
    let by_channel = metrics::channel(name);
    let acks = |code: &str| metrics::count(&metrics.acks, &channel_and(name, "code", code));
    let mllp_destinations = || {
        channel
            .destinations
            .iter()
            .filter(|destination| matches!(destination.to, TargetConfig::Mllp(_)))
    };
    let attempts = |destination: &str| -> u64 {
        DELIVERY_RESULTS
            .iter()
            .map(|result| {
                let labels = destination_and(name, destination, "result", result);
                metrics::count(&metrics.deliveries, &labels)
            })
            .sum()
    };
    Counts {
        frames: metrics::count(&metrics.frames_received, &by_channel),
        acks: ACK_CODES.iter().map(|code| acks(code)).sum(),
        ack_rejects: acks("AR"),
        tls_failures: metrics::count(&metrics.tls_handshake_failures, &by_channel),
        mllp_attempts: mllp_destinations().map(|d| attempts(&d.name)).sum(),
        ack_timeouts: mllp_destinations()
            .map(|d| {
                let labels = channel_and(name, "destination", &d.name);
                metrics::count(&metrics.ack_timeouts, &labels)
            })
            .sum(),
        files_refused: metrics::count(
            &metrics.files_read,
            &channel_and(name, "outcome", FileOutcome::Refused.as_str()),
        ),
    }
}

/// When the oldest message in `channel`'s inbound queues, or in the queues
/// of its `destinations`, was received, and which queue it waits in.
fn oldest_queued(
    store: &Store,
    channel: &str,
    partitions: u32,
    destinations: &[String],
) -> Result<Option<(u64, String)>, StoreError> {
    let mut heads: Vec<(u64, String)> = Vec::new();
    for partition in 0..partitions {
        if let Some(&id) = store.queue(channel, partition)?.first()
            && let Some(message) = store.message(id)?
        {
            heads.push((message.received_at_ms, "the inbound queue".to_owned()));
        }
        // A destination that cannot be reached holds its queue (its
        // attempts do not run out), so its oldest entry counts as well.
        for destination in destinations {
            if let Some(entry) = store.outbound(channel, destination, partition, 1)?.first() {
                let queue = format!("destination {destination:?}'s queue");
                heads.push((entry.header.received_at_ms, queue));
            }
        }
    }
    Ok(heads
        .into_iter()
        .min_by_key(|(received_at_ms, _)| *received_at_ms))
}
