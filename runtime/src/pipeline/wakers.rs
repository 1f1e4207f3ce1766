//! Who to wake when work arrives: each partition's pipeline worker, each
//! destination queue's delivery worker, and the connections waiting for
//! an `after_transform` or `after_delivery` ACK.
//!
//! `Notify::notify_one` keeps a permit when nobody waits, so a wake-up
//! that comes while a worker is busy is not lost: its next wait returns at
//! once and it looks at the store again. A worker also looks again after
//! [`IDLE_RECHECK`] without one, so a wake-up that never came (work queued
//! by a path that was cut short) delays that work by seconds, not hours.
//!
//! A woken worker lingers for [`LINGER`] before it looks, unless a sender
//! waits for the channel's work (see [`woken`]).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::Notify;

use super::delivery_outcomes::DeliveryOutcomes;
use crate::config::ChannelConfig;

/// The longest a pipeline or delivery worker waits before it looks at its
/// queue again, woken or not.
pub const IDLE_RECHECK: Duration = Duration::from_secs(5);

/// How long a pipeline or delivery worker, woken by new work, waits before
/// it takes it, so that a steady trickle of messages (one sender's) is
/// taken in batches rather than with a wake-up each: on this project's
/// virtual machines a wake-up costs more CPU than a message
/// (docs/BENCHMARKS.md, "An indexer and workers that linger"). The most it
/// adds to a message's way through a channel, per worker.
pub const LINGER: Duration = Duration::from_millis(1);

/// Waits for `signal`, then, when `linger`, for [`LINGER`] more, so that
/// the work that follows the wake-up's gathers with it. A channel whose
/// senders wait for its work (`AckMode::sender_waits`) does not linger.
pub async fn woken(signal: &Notify, linger: bool) {
    signal.notified().await;
    if linger {
        tokio::time::sleep(LINGER).await;
    }
}

/// The wake-up signals of every channel; a channel started anew by a
/// configuration reload gets new ones.
#[derive(Debug, Default)]
pub struct Wakers {
    channels: RwLock<HashMap<String, Arc<ChannelWakers>>>,
}

/// One channel's wake-up signals.
#[derive(Debug, Default)]
pub struct ChannelWakers {
    inbound: Vec<Notify>,
    outbound: HashMap<String, Vec<Notify>>,
    processed: Notify,
    deliveries: DeliveryOutcomes,
}

impl ChannelWakers {
    /// One signal per partition and per destination queue of `channel`.
    fn new(channel: &ChannelConfig) -> Self {
        let partitions = channel.partitions as usize;
        let signals = || (0..partitions).map(|_| Notify::new()).collect();
        ChannelWakers {
            inbound: signals(),
            outbound: channel
                .destinations
                .iter()
                .map(|d| (d.name.clone(), signals()))
                .collect(),
            processed: Notify::new(),
            deliveries: DeliveryOutcomes::default(),
        }
    }

    /// The signal of one partition's pipeline worker.
    pub fn inbound(&self, partition: u32) -> &Notify {
        &self.inbound[partition as usize]
    }

    /// The signal of one destination queue's delivery worker.
    pub fn outbound(&self, destination: &str, partition: u32) -> &Notify {
        &self.outbound[destination][partition as usize]
    }

    /// Signalled (to all waiters) whenever the channel's pipeline recorded
    /// results.
    pub fn processed(&self) -> &Notify {
        &self.processed
    }

    /// The outcomes at the channel's ACK destination (`ack_destination`),
    /// recorded by its delivery workers.
    pub fn deliveries(&self) -> &DeliveryOutcomes {
        &self.deliveries
    }
}

impl Wakers {
    /// Gives `channel` new signals, for its partitions and destinations as
    /// configured now.
    pub fn set_channel(&self, channel: &ChannelConfig) {
        let mut channels = self
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        channels.insert(channel.name.clone(), Arc::new(ChannelWakers::new(channel)));
    }

    /// Forgets a channel that no longer runs.
    pub fn remove_channel(&self, name: &str) {
        let mut channels = self
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        channels.remove(name);
    }

    /// The signals of `channel`.
    ///
    /// # Panics
    /// When the channel has none: only running channels' parts ask.
    pub fn channel(&self, channel: &str) -> Arc<ChannelWakers> {
        self.get(channel)
            .unwrap_or_else(|| panic!("channel {channel:?} has wake-up signals"))
    }

    fn get(&self, channel: &str) -> Option<Arc<ChannelWakers>> {
        let channels = self.channels.read().unwrap_or_else(PoisonError::into_inner);
        channels.get(channel).cloned()
    }

    /// Wakes one partition's pipeline worker; nothing when the channel or
    /// partition is not configured (any more).
    pub fn wake_inbound(&self, channel: &str, partition: u32) {
        if let Some(signal) = self
            .get(channel)
            .as_deref()
            .and_then(|c| c.inbound.get(partition as usize))
        {
            signal.notify_one();
        }
    }

    /// Wakes one destination queue's delivery worker; nothing when it is
    /// not configured (any more).
    pub fn wake_outbound(&self, channel: &str, destination: &str, partition: u32) {
        if let Some(signal) = self
            .get(channel)
            .as_deref()
            .and_then(|c| c.outbound.get(destination))
            .and_then(|signals| signals.get(partition as usize))
        {
            signal.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that a lingering worker looks only [`LINGER`] after its
    /// wake-up, and that one that must not linger looks at once.
    #[tokio::test(start_paused = true)]
    async fn woken_lingers_only_when_asked() {
        for (linger, waited) in [(true, LINGER), (false, Duration::ZERO)] {
            let signal = Notify::new();
            signal.notify_one();
            let started = tokio::time::Instant::now();
            woken(&signal, linger).await;
            assert_eq!(started.elapsed(), waited, "linger {linger}");
        }
    }
}
