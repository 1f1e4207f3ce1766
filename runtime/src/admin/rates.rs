//! Per-second rates of each channel over the last minute: received,
//! ACKed, delivered and dead-lettered.
//!
//! A task samples every channel's counter totals every
//! [`SAMPLE_INTERVAL`] and keeps the samples of the last [`WINDOW`]; a
//! rate is the difference between the counters now and the oldest sample
//! kept, divided by the time between them (`window_secs`, so at most a
//! minute, less just after the engine started).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::state::AdminState;
use super::stats::ChannelStats;

/// How often the counters are sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);
/// How far back rates look.
const WINDOW: Duration = Duration::from_secs(60);

/// A channel's counter totals since the engine started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// MLLP frames received.
    pub received: u64,
    /// ACKs sent, whatever their code.
    pub acked: u64,
    /// Messages delivered, over all destinations.
    pub delivered: u64,
    /// Messages dead-lettered, by the pipeline or a destination.
    pub dead_lettered: u64,
}

/// Per-second rates of one channel.
#[derive(Debug, Serialize)]
pub struct ChannelRates {
    /// The seconds the rates are averaged over.
    pub window_secs: f64,
    /// MLLP frames received per second.
    pub received: f64,
    /// ACKs sent per second.
    pub acked: f64,
    /// Messages delivered per second.
    pub delivered: f64,
    /// Messages dead-lettered per second.
    pub dead_lettered: f64,
}

/// The samples of the last minute, oldest first.
#[derive(Debug, Default)]
pub struct RateSamples {
    // A std `Mutex`: held only to push, pop or copy one sample.
    samples: Mutex<VecDeque<(Instant, BTreeMap<String, Totals>)>>,
}

impl RateSamples {
    /// Keeps a sample taken `at`, and forgets those older than the window.
    fn record(&self, at: Instant, totals: BTreeMap<String, Totals>) {
        let mut samples = self.samples.lock().expect("rate samples poisoned");
        samples.push_back((at, totals));
        while samples
            .front()
            .is_some_and(|(taken, _)| at.duration_since(*taken) > WINDOW)
        {
            samples.pop_front();
        }
    }

    /// `channel`'s rates from the oldest sample kept to `current`, taken
    /// `now`; `None` before the first sample.
    pub fn rates(&self, channel: &str, now: Instant, current: Totals) -> Option<ChannelRates> {
        let samples = self.samples.lock().expect("rate samples poisoned");
        let (taken, totals) = samples.front()?;
        let then = totals.get(channel).copied().unwrap_or_default();
        let secs = now.saturating_duration_since(*taken).as_secs_f64();
        let per_second = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs.max(0.001);
        Some(ChannelRates {
            window_secs: secs,
            received: per_second(current.received, then.received),
            acked: per_second(current.acked, then.acked),
            delivered: per_second(current.delivered, then.delivered),
            dead_lettered: per_second(current.dead_lettered, then.dead_lettered),
        })
    }
}

/// Samples every channel's totals into `state.rates` until `shutdown`.
pub async fn sample_rates(state: Arc<AdminState>, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(SAMPLE_INTERVAL);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let totals = state
            .channel_set()
            .configs
            .iter()
            .map(|channel| {
                let totals = ChannelStats::read(&state.metrics, channel).totals();
                (channel.name.clone(), totals)
            })
            .collect();
        state.rates.record(Instant::now(), totals);
    }
}
