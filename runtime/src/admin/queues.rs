//! `GET /api/v1/channels/{name}/queues`: how much waits in a channel's
//! inbound queue and in each destination's queue, per partition, for how
//! long the oldest entry has been in the engine, and, when a destination
//! queue's oldest entry failed, why it waits.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::Serialize;

use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;
use crate::config::ChannelConfig;
use crate::hl7_input::now_unix_ms;
use crate::store::{Store, StoreError};

/// One queue of one partition.
#[derive(Debug, Serialize)]
pub struct QueueDepth {
    /// The partition.
    pub partition: u32,
    /// Entries waiting.
    pub depth: usize,
    /// Milliseconds since the oldest waiting message was received; `None`
    /// when the queue is empty.
    pub oldest_age_ms: Option<u64>,
    /// A destination queue whose oldest entry failed: why it waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing: Option<Failing>,
}

/// Why a destination queue's oldest entry is still there: its failed
/// attempts (the reasons hold no content from the receiver).
#[derive(Debug, Serialize)]
pub struct Failing {
    /// Failed attempts so far.
    pub attempts: u32,
    /// How many of them could not reach the destination at all (an
    /// outage: these do not count against the retry limit).
    pub unreachable_attempts: u32,
    /// When the first attempt failed (ms since the Unix epoch).
    pub since_ms: Option<u64>,
    /// Why the latest attempt failed.
    pub last_error: Option<String>,
    /// When it is tried next (ms since the Unix epoch).
    pub next_attempt_ms: u64,
}

/// The queues of one channel.
#[derive(Debug, Serialize)]
pub struct ChannelQueues {
    /// The channel.
    pub channel: String,
    /// The inbound (pipeline) queue, per partition.
    pub inbound: Vec<QueueDepth>,
    /// Each destination's queue, per partition, by destination name.
    pub outbound: std::collections::BTreeMap<String, Vec<QueueDepth>>,
}

/// `GET /api/v1/channels/{name}/queues`.
///
/// # Errors
/// 404 for an unknown channel, 503 when the store fails.
pub async fn show(
    _caller: Caller,
    State(state): State<Arc<AdminState>>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<ChannelQueues>, ApiError> {
    let Path(name) = name?;
    state
        .blocking(move |state| Ok(Json(read(&state.store, &state.channel(&name)?)?)))
        .await
}

fn read(store: &Store, channel: &ChannelConfig) -> Result<ChannelQueues, StoreError> {
    let name = channel.name.as_str();
    let now = now_unix_ms();
    let age = |received_at_ms: u64| now.saturating_sub(received_at_ms);
    let partitions = 0..channel.partitions;
    let inbound = partitions
        .clone()
        .map(|partition| {
            let ids = store.queue(name, partition)?;
            let oldest = match ids.first() {
                Some(&id) => store.message(id)?.map(|m| age(m.received_at_ms)),
                None => None,
            };
            Ok(QueueDepth {
                partition,
                depth: ids.len(),
                oldest_age_ms: oldest,
                failing: None,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let mut outbound = std::collections::BTreeMap::new();
    for destination in &channel.destinations {
        let queues = partitions
            .clone()
            .map(|partition| {
                let oldest = store.outbound(name, &destination.name, partition, 1)?;
                let oldest = oldest.first().map(|entry| &entry.header);
                Ok(QueueDepth {
                    partition,
                    depth: store.outbound_depth(name, &destination.name, partition)?,
                    oldest_age_ms: oldest.map(|header| age(header.received_at_ms)),
                    failing: oldest.filter(|h| h.attempts > 0).map(|header| Failing {
                        attempts: header.attempts,
                        unreachable_attempts: header.unreachable_attempts,
                        since_ms: header.first_failure_ms,
                        last_error: header.last_error.clone(),
                        next_attempt_ms: header.next_attempt_ms,
                    }),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        outbound.insert(destination.name.clone(), queues);
    }
    Ok(ChannelQueues {
        channel: name.to_owned(),
        inbound,
        outbound,
    })
}
