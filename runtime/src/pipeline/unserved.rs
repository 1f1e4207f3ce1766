//! Work the configuration no longer serves: messages queued in a channel,
//! or entries queued for a destination, whose name the configuration no
//! longer has (removed, or renamed). No worker would ever take them, so at
//! start each goes to the dead-letter queue with the reason
//! `not_configured`, where an administrator sees it and can purge it, or
//! reprocess it once the name is configured again.

use anyhow::Context;

use super::events::DeadLettered;
use super::partition::{dead_letter, unrouted};
use crate::config::Config;
use crate::hl7_input::now_unix_ms;
use crate::metrics::Metrics;
use crate::store::{DeadLetterReason, MessageState, MessageStatus, Store};

/// How many messages and entries went to the dead-letter queue.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Unserved {
    /// Inbound messages of channels not configured.
    pub inbound: usize,
    /// Entries of destinations not configured.
    pub outbound: usize,
}

/// Moves the queued work of channels and destinations `config` does not
/// name to the dead-letter queue, each counted and logged as a dead
/// letter. Call it before the workers start.
///
/// # Errors
/// When storage fails; what was moved before stays moved.
pub fn dead_letter_unserved(
    store: &Store,
    config: &Config,
    metrics: &Metrics,
) -> anyhow::Result<Unserved> {
    let mut moved = Unserved::default();
    let now = now_unix_ms();
    for (channel, partition) in store.inbound_queues()? {
        if config.channel(&channel).is_some() {
            continue;
        }
        let error = format!("channel \"{channel}\" is not configured");
        let items: Vec<_> = store
            .pending(&channel, partition, usize::MAX, |_| false)?
            .iter()
            .map(|message| {
                let mut status = MessageStatus::new(MessageState::DeadLettered, now);
                status.error = Some(error.clone());
                let item = unrouted(message, status.clone());
                dead_letter(item, status, message, DeadLetterReason::NotConfigured, 0)
            })
            .collect();
        store
            .complete(&channel, partition, &items)
            .with_context(|| format!("dead-lettering the queued messages of {error}"))?;
        for item in &items {
            emit(metrics, &channel, None, item.control_id.as_deref(), &error);
        }
        moved.inbound += items.len();
    }
    for (channel, destination, partition) in store.outbound_queues()? {
        let configured = config
            .channel(&channel)
            .is_some_and(|c| c.destinations.iter().any(|d| d.name == destination));
        if configured {
            continue;
        }
        let error =
            format!("destination \"{destination}\" of channel \"{channel}\" is not configured");
        for entry in store.outbound(&channel, &destination, partition, usize::MAX)? {
            store
                .dead_letter_outbound(&entry, DeadLetterReason::NotConfigured, &error, now)
                .with_context(|| format!("dead-lettering the queued entries of {error}"))?;
            let control_id = entry.header.control_id.as_deref();
            emit(metrics, &channel, Some(&destination), control_id, &error);
            moved.outbound += 1;
        }
    }
    Ok(moved)
}

fn emit(
    metrics: &Metrics,
    channel: &str,
    destination: Option<&str>,
    control_id: Option<&str>,
    error: &str,
) {
    DeadLettered {
        channel,
        destination,
        control_id,
        reason: DeadLetterReason::NotConfigured,
        error,
    }
    .emit(metrics);
}
