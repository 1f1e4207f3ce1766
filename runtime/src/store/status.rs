//! What happened to a message in its channel's pipeline: each stage's
//! result, with its timing and the plugin version that ran, and where the
//! outputs went. The admin API shows it; `after_transform` ACKs read it.

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::held_outbound::HeldOutput;
use super::keys;

/// A message's state after the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// The pipeline forwarded it; its outputs are queued for their
    /// destinations.
    Processed,
    /// A plugin filtered it out.
    Filtered,
    /// A plugin asked for a retry; it is still queued.
    Retrying,
    /// It failed and went to the dead-letter queue.
    DeadLettered,
    /// An administrator reprocessed it from the dead-letter queue; it is
    /// queued again.
    Requeued,
}

impl MessageState {
    /// Its name, as serialised: `processed`, `filtered`, ...
    pub fn name(self) -> &'static str {
        match self {
            MessageState::Processed => "processed",
            MessageState::Filtered => "filtered",
            MessageState::Retrying => "retrying",
            MessageState::DeadLettered => "dead_lettered",
            MessageState::Requeued => "requeued",
        }
    }

    /// Whether a message in this state stays in (or is back in) its inbound
    /// queue.
    pub fn is_queued(self) -> bool {
        matches!(self, MessageState::Retrying | MessageState::Requeued)
    }
}

/// One stage's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRecord {
    /// The plugin's name.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// Its content hash.
    pub sha256: String,
    /// `forward`, `filter`, `skipped`, `reject` or `retry`.
    pub outcome: String,
    /// How many messages it forwarded.
    pub outputs: usize,
    /// Time spent, in microseconds.
    pub micros: u64,
    /// The filter reason or error text.
    pub detail: Option<String>,
}

/// Where in the message a failure lies, for an ERR segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureLocation {
    /// The segment id, for example `PID`.
    pub segment: String,
    /// The field number, if known.
    pub field: Option<u32>,
}

/// A message's processing record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStatus {
    /// The state it is in.
    pub state: MessageState,
    /// Each stage that ran, in order (for the latest attempt).
    pub stages: Vec<StageRecord>,
    /// The destinations its outputs were queued for.
    pub routed_to: Vec<String>,
    /// Pipeline attempts so far.
    pub attempts: u32,
    /// The failure's text, when it failed or is retrying.
    pub error: Option<String>,
    /// Where the failure lies, when the plugin said.
    pub location: Option<FailureLocation>,
    /// When this record was written, in milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
}

impl MessageStatus {
    /// A record in `state` written at `updated_at_ms`, with no stages,
    /// destinations, attempts or failure yet.
    pub fn new(state: MessageState, updated_at_ms: u64) -> Self {
        MessageStatus {
            state,
            stages: Vec::new(),
            routed_to: Vec::new(),
            attempts: 0,
            error: None,
            location: None,
            updated_at_ms,
        }
    }
}

/// The status record of message `id` in `db`, if it has one.
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] if the record does not
/// decode.
pub(crate) fn read(db: &sled::Db, id: u64) -> Result<Option<MessageStatus>, StoreError> {
    let key = keys::status(id);
    let Some(value) = db.get(&key)? else {
        return Ok(None);
    };
    decode(&key, &value).map(Some)
}

fn decode(key: &[u8], value: &[u8]) -> Result<MessageStatus, StoreError> {
    serde_json::from_slice(value).map_err(|e| StoreError::Corrupt {
        key: keys::describe(key),
        reason: e.to_string(),
    })
}

/// `status` as stored.
pub(crate) fn encode(status: &MessageStatus) -> Vec<u8> {
    encode_with_held(status, &[])
}

/// `status` as stored, with the outputs its message has held in memory
/// (see `held_outbound.rs`) under a key of their own, which
/// [`MessageStatus`] does not read.
pub(crate) fn encode_with_held(status: &MessageStatus, held: &[HeldOutput]) -> Vec<u8> {
    if held.is_empty() {
        // The same text, without the detour a flattened struct takes.
        return serde_json::to_vec(status).expect("statuses serialize");
    }
    #[derive(Serialize)]
    struct Stored<'a> {
        #[serde(flatten)]
        status: &'a MessageStatus,
        held: &'a [HeldOutput],
    }
    serde_json::to_vec(&Stored { status, held }).expect("statuses serialize")
}

/// The held outputs the status stored under `key` records.
///
/// # Errors
///
/// [`StoreError::Corrupt`] if the status does not decode.
pub(crate) fn held_outputs(key: &[u8], value: &[u8]) -> Result<Vec<HeldOutput>, StoreError> {
    #[derive(Deserialize)]
    struct Held {
        #[serde(default)]
        held: Vec<HeldOutput>,
    }
    let decoded: Held = serde_json::from_slice(value).map_err(|e| StoreError::Corrupt {
        key: keys::describe(key),
        reason: e.to_string(),
    })?;
    Ok(decoded.held)
}

/// The status of message `id` as stored, without the held outputs whose
/// sequences are in `sequences`: they left memory, for sled or the
/// dead-letter queue, so that opening the store must not hold them again
/// (wherever they go next: delivered from sled, purged, reprocessed).
/// `None` if the status names none of them.
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] if the status does not
/// decode.
pub(crate) fn without_held(
    db: &sled::Db,
    id: u64,
    sequences: &[u64],
) -> Result<Option<Vec<u8>>, StoreError> {
    let key = keys::status(id);
    let Some(value) = db.get(&key)? else {
        return Ok(None);
    };
    let (left, kept): (Vec<HeldOutput>, Vec<HeldOutput>) = held_outputs(&key, &value)?
        .into_iter()
        .partition(|output| sequences.contains(&output.sequence));
    if left.is_empty() {
        return Ok(None);
    }
    Ok(Some(encode_with_held(&decode(&key, &value)?, &kept)))
}

/// Rewrites the status of message `id`, if it has one, without the held
/// outputs it records (they were written to sled).
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] if the status does not
/// decode.
pub(crate) fn forget_held(db: &sled::Db, id: u64) -> Result<(), StoreError> {
    if let Some(status) = read(db, id)? {
        db.insert(keys::status(id), encode(&status))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that each state's name is the one its JSON carries, which
    /// the admin API and the metrics' labels share.
    #[test]
    fn names_are_the_serialised_ones() {
        use MessageState::*;
        for state in [Processed, Filtered, Retrying, DeadLettered, Requeued] {
            assert_eq!(serde_json::to_value(state).unwrap(), state.name());
        }
    }
}
