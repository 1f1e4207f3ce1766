//! Who to wake when work arrives: each partition's pipeline worker, each
//! destination queue's delivery worker, and the connections waiting for
//! an `after_transform` or `after_delivery` ACK.
//!
//! `Notify::notify_one` keeps a permit when nobody waits, so a wake-up
//! that comes while a worker is busy is not lost: its next wait returns at
//! once and it looks at the store again. A worker also looks again after
//! [`IDLE_RECHECK`] without one, so a wake-up that never came (work queued
//! by a path that was cut short) delays that work by seconds, not hours.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::Notify;

use super::delivery_outcomes::DeliveryOutcomes;
use crate::config::Config;

/// The longest a pipeline or delivery worker waits before it looks at its
/// queue again, woken or not.
pub const IDLE_RECHECK: Duration = Duration::from_secs(5);

/// The wake-up signals of every channel.
#[derive(Debug, Default)]
pub struct Wakers {
    channels: HashMap<String, ChannelWakers>,
}

#[derive(Debug, Default)]
struct ChannelWakers {
    inbound: Vec<Notify>,
    outbound: HashMap<String, Vec<Notify>>,
    processed: Notify,
    deliveries: DeliveryOutcomes,
}

impl Wakers {
    /// One signal per partition and per destination queue of `config`.
    pub fn new(config: &Config) -> Self {
        let channels = config
            .channels
            .iter()
            .map(|channel| {
                let partitions = channel.partitions as usize;
                let signals = || (0..partitions).map(|_| Notify::new()).collect();
                let wakers = ChannelWakers {
                    inbound: signals(),
                    outbound: channel
                        .destinations
                        .iter()
                        .map(|d| (d.name.clone(), signals()))
                        .collect(),
                    processed: Notify::new(),
                    deliveries: DeliveryOutcomes::default(),
                };
                (channel.name.clone(), wakers)
            })
            .collect();
        Wakers { channels }
    }

    /// The signal of one partition's pipeline worker.
    pub fn inbound(&self, channel: &str, partition: u32) -> &Notify {
        &self.channels[channel].inbound[partition as usize]
    }

    /// The signal of one destination queue's delivery worker.
    pub fn outbound(&self, channel: &str, destination: &str, partition: u32) -> &Notify {
        &self.channels[channel].outbound[destination][partition as usize]
    }

    /// Wakes one partition's pipeline worker; nothing when the channel or
    /// partition is not configured (any more).
    pub fn wake_inbound(&self, channel: &str, partition: u32) {
        if let Some(signal) = self
            .channels
            .get(channel)
            .and_then(|c| c.inbound.get(partition as usize))
        {
            signal.notify_one();
        }
    }

    /// Wakes one destination queue's delivery worker; nothing when it is
    /// not configured (any more).
    pub fn wake_outbound(&self, channel: &str, destination: &str, partition: u32) {
        if let Some(signal) = self
            .channels
            .get(channel)
            .and_then(|c| c.outbound.get(destination))
            .and_then(|signals| signals.get(partition as usize))
        {
            signal.notify_one();
        }
    }

    /// Signalled (to all waiters) whenever the channel's pipeline recorded
    /// results.
    pub fn processed(&self, channel: &str) -> &Notify {
        &self.channels[channel].processed
    }

    /// The outcomes at the channel's ACK destination (`ack_destination`),
    /// recorded by its delivery workers.
    pub fn deliveries(&self, channel: &str) -> &DeliveryOutcomes {
        &self.channels[channel].deliveries
    }
}
