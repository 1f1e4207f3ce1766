//! A channel's statistics, read from the metrics counters: what was
//! received and ACKed, what the pipeline made of it, and what each
//! destination delivered, retried, rejected and dead-lettered.

use std::collections::BTreeMap;

use serde::Serialize;

use super::rates::Totals;
use crate::config::ChannelConfig;
use crate::metrics::{self, Metrics, channel_and, destination_and};
use crate::pipeline::DELIVERY_RESULTS;
use crate::store::{DeadLetterReason, PIPELINE};

/// The MSA-1 codes a channel may answer with.
const ACK_CODES: [&str; 6] = ["AA", "AE", "AR", "CA", "CE", "CR"];
/// The states the pipeline counts (`MessageState`, as serialized).
const STATES: [&str; 4] = ["processed", "filtered", "retrying", "dead_lettered"];
const REASONS: [DeadLetterReason; 4] = [
    DeadLetterReason::PluginRejected,
    DeadLetterReason::PluginRetriesExhausted,
    DeadLetterReason::Rejected,
    DeadLetterReason::RetriesExhausted,
];

/// Counters of one channel since the engine started.
#[derive(Debug, Serialize)]
pub struct ChannelStats {
    /// Messages received by the source (MLLP frames, HTTP bodies, messages
    /// in files).
    pub frames_received: u64,
    /// When the source last received one, in seconds since the Unix
    /// epoch; `None` before the first since the engine started.
    pub last_received_unix_secs: Option<i64>,
    /// Messages stored durably.
    pub messages_stored: u64,
    /// Resends recognised as duplicates.
    pub duplicates: u64,
    /// Messages stored although an earlier one had the same sender and
    /// MSH-10 within the dedupe window: other content, a reused control id.
    pub control_id_reuses: u64,
    /// Messages answered AE because storage failed.
    pub storage_failures: u64,
    /// Messages refused by the channel's conformance profile.
    pub messages_invalid: u64,
    /// ACKs sent, by MSA-1 code.
    pub acks: BTreeMap<&'static str, u64>,
    /// Messages through the pipeline, by resulting state.
    pub processed: BTreeMap<&'static str, u64>,
    /// Pipeline failures dead-lettered, by reason.
    pub pipeline_dead_lettered: BTreeMap<&'static str, u64>,
    /// Per destination.
    pub destinations: BTreeMap<String, DestinationStats>,
}

/// Counters of one destination since the engine started.
#[derive(Debug, Serialize)]
pub struct DestinationStats {
    /// Delivery attempts, by result: `delivered`, `retry`, `unreachable`
    /// (a retry that could not reach the destination), `rejected`.
    pub attempts: BTreeMap<&'static str, u64>,
    /// Entries dead-lettered, by reason.
    pub dead_lettered: BTreeMap<&'static str, u64>,
}

impl ChannelStats {
    /// Reads `channel`'s counters.
    pub fn read(metrics: &Metrics, channel: &ChannelConfig) -> Self {
        let name = channel.name.as_str();
        let by_channel = metrics::channel(name);
        let count = |family, labels: &metrics::Labels| metrics::count(family, labels);
        let tally = |family, key, values: &[&'static str]| {
            values
                .iter()
                .map(|&value| (value, count(family, &channel_and(name, key, value))))
                .collect()
        };
        ChannelStats {
            frames_received: count(&metrics.frames_received, &by_channel),
            last_received_unix_secs: metrics.last_frame.get(&by_channel).map(|g| g.get()),
            messages_stored: count(&metrics.messages_stored, &by_channel),
            duplicates: count(&metrics.duplicates, &by_channel),
            control_id_reuses: count(&metrics.control_id_reuses, &by_channel),
            storage_failures: count(&metrics.storage_failures, &by_channel),
            messages_invalid: count(&metrics.messages_invalid, &by_channel),
            acks: tally(&metrics.acks, "code", &ACK_CODES),
            processed: tally(&metrics.messages_processed, "state", &STATES),
            pipeline_dead_lettered: dead_lettered(metrics, name, PIPELINE),
            destinations: channel
                .destinations
                .iter()
                .map(|d| {
                    (
                        d.name.clone(),
                        DestinationStats::read(metrics, name, &d.name),
                    )
                })
                .collect(),
        }
    }
}

impl ChannelStats {
    /// The totals rates are computed from.
    pub fn totals(&self) -> Totals {
        let destinations = self.destinations.values();
        Totals {
            received: self.frames_received,
            acked: self.acks.values().sum(),
            delivered: destinations
                .clone()
                .map(|d| d.attempts.get("delivered").copied().unwrap_or(0))
                .sum(),
            dead_lettered: self.pipeline_dead_lettered.values().sum::<u64>()
                + destinations
                    .flat_map(|d| d.dead_lettered.values())
                    .sum::<u64>(),
        }
    }
}

impl DestinationStats {
    fn read(metrics: &Metrics, channel: &str, destination: &str) -> Self {
        DestinationStats {
            attempts: DELIVERY_RESULTS
                .iter()
                .map(|&result| {
                    let labels = destination_and(channel, destination, "result", result);
                    (result, metrics::count(&metrics.deliveries, &labels))
                })
                .collect(),
            dead_lettered: dead_lettered(metrics, channel, destination),
        }
    }
}

/// The dead-letter counters of one destination (or `pipeline`), by reason.
fn dead_lettered(
    metrics: &Metrics,
    channel: &str,
    destination: &str,
) -> BTreeMap<&'static str, u64> {
    REASONS
        .iter()
        .map(|reason| {
            let labels = destination_and(channel, destination, "reason", reason.as_str());
            (
                reason.as_str(),
                metrics::count(&metrics.dead_letters, &labels),
            )
        })
        .collect()
}
