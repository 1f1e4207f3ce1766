//! The key layout of the store's one sled tree (see the module docs of
//! `store` for the picture).
//!
//! Variable parts are length-prefixed (`u32` big-endian) so that no channel
//! name is a key prefix of another and no field can forge a separator;
//! numbers are big-endian so that byte order is numeric order.

use super::dedupe::DedupeKey;

/// Prefix of message records: `m/<id u64>`.
pub(crate) const MESSAGE_PREFIX: &[u8] = b"m/";
/// Prefix of the inbound queue entries of messages queued for long (see
/// `queues.rs`): `q/<channel>/<partition u32>/<id u64>`.
pub(crate) const QUEUE_PREFIX: &[u8] = b"q/";
/// Prefix of dedupe entries one by one, as earlier versions wrote them:
/// `d/<channel><msh3><msh4><msh10>`. Still read and pruned; dedupe keys
/// keep the form (see [`dedupe`]).
pub(crate) const DEDUPE_PREFIX: &[u8] = b"d/";
/// Prefix of chunks of dedupe entries: `k/<greatest id u64>` (see
/// `dedupe_index.rs`).
pub(crate) const DEDUPE_CHUNK_PREFIX: &[u8] = b"k/";
/// Prefix of outbound queue entries:
/// `o/<channel><destination><partition u32><sequence u64>`. An entry is a
/// header and its payload; one that delivers the inbound message as
/// received holds no payload and says so in its header (the message
/// record `m/<id>` holds the body).
pub(crate) const OUTBOUND_PREFIX: &[u8] = b"o/";
/// Prefix of dead letters: `x/<sequence u64>`.
pub(crate) const DEAD_LETTER_PREFIX: &[u8] = b"x/";
/// Prefix of processing status records: `s/<id u64>`.
pub(crate) const STATUS_PREFIX: &[u8] = b"s/";
/// Prefix of the run states administrators set: `c/<channel>`.
pub(crate) const CHANNEL_STATE_PREFIX: &[u8] = b"c/";
/// Prefix of the partitioning each channel's queued work was placed by
/// (see `repartition.rs`): `p/<channel>`.
pub(crate) const PARTITIONING_PREFIX: &[u8] = b"p/";
/// The ceiling of the ids the store may hand out (see `ids.rs`).
pub(crate) const ID_CEILING: &[u8] = b"n/ids";
/// The low-water mark of the inbound queues (see `queues.rs`).
pub(crate) const QUEUE_LOW_WATER: &[u8] = b"n/queued";
/// The low-water mark of the outbound entries held in memory (see
/// `held_outbound.rs`).
pub(crate) const OUTBOUND_LOW_WATER: &[u8] = b"n/outbound";

/// The key of message `id`.
pub(crate) fn message(id: u64) -> Vec<u8> {
    prefixed_id(MESSAGE_PREFIX, id)
}

/// The key of the chunk of dedupe entries whose greatest id is `id`.
pub(crate) fn dedupe_chunk(id: u64) -> Vec<u8> {
    prefixed_id(DEDUPE_CHUNK_PREFIX, id)
}

/// The key of message `id`'s processing status.
pub(crate) fn status(id: u64) -> Vec<u8> {
    prefixed_id(STATUS_PREFIX, id)
}

/// The key of `channel`'s run state.
pub(crate) fn channel_state(channel: &str) -> Vec<u8> {
    let mut key = CHANNEL_STATE_PREFIX.to_vec();
    push_part(&mut key, channel.as_bytes());
    key
}

/// The key of the partitioning `channel`'s queued work was placed by.
pub(crate) fn partitioning(channel: &str) -> Vec<u8> {
    let mut key = PARTITIONING_PREFIX.to_vec();
    push_part(&mut key, channel.as_bytes());
    key
}

/// The key of dead letter `sequence`.
pub(crate) fn dead_letter(sequence: u64) -> Vec<u8> {
    prefixed_id(DEAD_LETTER_PREFIX, sequence)
}

/// The prefix shared by every outbound entry of one channel.
pub(crate) fn channel_outbound_prefix(channel: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(OUTBOUND_PREFIX.len() + 32 + channel.len());
    key.extend_from_slice(OUTBOUND_PREFIX);
    push_part(&mut key, channel.as_bytes());
    key
}

/// The prefix shared by every entry of one destination's queues, all
/// partitions.
pub(crate) fn destination_prefix(channel: &str, destination: &str) -> Vec<u8> {
    let mut key = channel_outbound_prefix(channel);
    push_part(&mut key, destination.as_bytes());
    key
}

/// The prefix shared by every entry of one destination's queue for one
/// partition.
pub(crate) fn outbound_prefix(channel: &str, destination: &str, partition: u32) -> Vec<u8> {
    let mut key = destination_prefix(channel, destination);
    key.extend_from_slice(&partition.to_be_bytes());
    key
}

/// The key of entry `sequence` in one destination's queue.
pub(crate) fn outbound_entry(
    channel: &str,
    destination: &str,
    partition: u32,
    sequence: u64,
) -> Vec<u8> {
    let mut key = outbound_prefix(channel, destination, partition);
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

/// The inbound queue entry of message `id`.
pub(crate) fn queue_entry(channel: &str, partition: u32, id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(QUEUE_PREFIX.len() + 4 + channel.len() + 4 + 8);
    key.extend_from_slice(QUEUE_PREFIX);
    push_part(&mut key, channel.as_bytes());
    key.extend_from_slice(&partition.to_be_bytes());
    key.extend_from_slice(&id.to_be_bytes());
    key
}

fn prefixed_id(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The channel, destination and partition of an outbound entry's key.
pub(crate) fn outbound_queue(key: &[u8]) -> Option<(String, String, u32)> {
    let mut rest = key.strip_prefix(OUTBOUND_PREFIX)?;
    let mut part = || {
        let (length, tail) = rest.split_first_chunk::<4>()?;
        let (text, tail) = tail.split_at_checked(u32::from_be_bytes(*length) as usize)?;
        rest = tail;
        String::from_utf8(text.to_vec()).ok()
    };
    let (channel, destination) = (part()?, part()?);
    Some((channel, destination, queue_partition(key)?))
}

/// The partition of an inbound or outbound queue key: the four bytes
/// before its trailing id.
pub(crate) fn queue_partition(key: &[u8]) -> Option<u32> {
    let end = key.len().checked_sub(8)?;
    let start = end.checked_sub(4)?;
    Some(u32::from_be_bytes(key[start..end].try_into().ok()?))
}

/// The message id at the end of a message or queue key, if it has one.
pub(crate) fn trailing_id(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[start..].try_into().ok()?))
}

/// A message's dedupe key: what the dedupe index files its entry under.
pub(crate) fn dedupe(channel: &str, key: &DedupeKey<'_>) -> Vec<u8> {
    let fields = [
        channel,
        key.sending_application,
        key.sending_facility,
        key.control_id,
    ];
    let length: usize = fields.iter().map(|field| 4 + field.len()).sum();
    let mut bytes = Vec::with_capacity(DEDUPE_PREFIX.len() + length);
    bytes.extend_from_slice(DEDUPE_PREFIX);
    for field in fields {
        push_part(&mut bytes, field.as_bytes());
    }
    bytes
}

/// A printable form of a key for error messages: its prefix and, when it
/// ends in an id, the id (never field values, which may identify a patient).
pub(crate) fn describe(key: &[u8]) -> String {
    let prefix = String::from_utf8_lossy(&key[..key.len().min(2)]);
    let by_id = [
        MESSAGE_PREFIX,
        STATUS_PREFIX,
        DEAD_LETTER_PREFIX,
        DEDUPE_CHUNK_PREFIX,
    ];
    match trailing_id(key) {
        Some(id) if by_id.iter().any(|p| key.starts_with(p)) => format!("{prefix}{id}"),
        _ => format!("{prefix}…"),
    }
}

fn push_part(key: &mut Vec<u8>, part: &[u8]) {
    let length = u32::try_from(part.len()).expect("key part shorter than 4 GiB");
    key.extend_from_slice(&length.to_be_bytes());
    key.extend_from_slice(part);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that keys sort by id within a queue and that one
    /// destination's queue prefix does not cover a destination whose name
    /// extends it.
    #[test]
    fn keys_sort_by_id_and_do_not_overlap() {
        assert!(queue_entry("adt", 0, 9) < queue_entry("adt", 0, 10));
        assert!(queue_entry("adt", 0, 255) < queue_entry("adt", 1, 0));
        assert!(queue_entry("adt", 9, 9) < queue_entry("adt2", 0, 0));
        assert_eq!(trailing_id(&queue_entry("adt", 3, 42)), Some(42));
        assert_eq!(trailing_id(&outbound_entry("adt", "ehr", 3, 42)), Some(42));
        assert_eq!(queue_partition(&queue_entry("adt", 3, 42)), Some(3));
        assert_eq!(
            outbound_queue(&outbound_entry("adt", "ehr", 7, 42)),
            Some(("adt".into(), "ehr".into(), 7))
        );
        assert_eq!(
            queue_partition(&outbound_entry("adt", "ehr", 7, 42)),
            Some(7)
        );
        assert!(outbound_entry("adt", "ehr", 7, 1).starts_with(&destination_prefix("adt", "ehr")));
        assert!(outbound_entry("adt", "ehr", 0, 255) < outbound_entry("adt", "ehr", 0, 256));
        assert!(
            !outbound_entry("adt", "ehr2", 0, 1).starts_with(&outbound_prefix("adt", "ehr", 0))
        );
    }

    /// Ensures that dedupe keys cannot collide by moving text between fields.
    #[test]
    fn dedupe_keys_keep_fields_apart() {
        let a = DedupeKey {
            sending_application: "AB",
            sending_facility: "C",
            control_id: "1",
        };
        let b = DedupeKey {
            sending_application: "A",
            sending_facility: "BC",
            control_id: "1",
        };
        assert_ne!(dedupe("ch", &a), dedupe("ch", &b));
    }
}
