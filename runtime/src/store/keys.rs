//! The key layout of the store's one sled tree (see the module docs of
//! `store` for the picture).
//!
//! Variable parts are length-prefixed (`u32` big-endian) so that no channel
//! name is a key prefix of another and no field can forge a separator;
//! numbers are big-endian so that byte order is numeric order.

use super::dedupe::DedupeKey;

/// Prefix of message records: `m/<id u64>`.
pub(crate) const MESSAGE_PREFIX: &[u8] = b"m/";
/// Prefix of inbound queue entries: `q/<channel>/<partition u32>/<id u64>`.
pub(crate) const QUEUE_PREFIX: &[u8] = b"q/";
/// Prefix of dedupe entries: `d/<channel><msh3><msh4><msh10>`.
pub(crate) const DEDUPE_PREFIX: &[u8] = b"d/";

/// The key of message `id`.
pub(crate) fn message(id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(MESSAGE_PREFIX.len() + 8);
    key.extend_from_slice(MESSAGE_PREFIX);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The prefix shared by every entry of one inbound queue.
pub(crate) fn queue_prefix(channel: &str, partition: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(QUEUE_PREFIX.len() + 4 + channel.len() + 4 + 8);
    key.extend_from_slice(QUEUE_PREFIX);
    push_part(&mut key, channel.as_bytes());
    key.extend_from_slice(&partition.to_be_bytes());
    key
}

/// The key of message `id` in one inbound queue.
pub(crate) fn queue_entry(channel: &str, partition: u32, id: u64) -> Vec<u8> {
    let mut key = queue_prefix(channel, partition);
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The message id at the end of a message or queue key, if it has one.
pub(crate) fn trailing_id(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[start..].try_into().ok()?))
}

/// The key of a dedupe entry.
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
    match trailing_id(key) {
        Some(id) if key.starts_with(MESSAGE_PREFIX) => format!("{prefix}{id}"),
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

    /// Ensures that queue keys sort by id and that one channel's queue prefix
    /// does not cover a channel whose name extends it.
    #[test]
    fn queue_keys_sort_by_id_and_do_not_overlap() {
        assert!(queue_entry("adt", 0, 9) < queue_entry("adt", 0, 10));
        assert!(queue_entry("adt", 0, 255) < queue_entry("adt", 0, 256));
        assert!(!queue_entry("adt2", 0, 1).starts_with(&queue_prefix("adt", 0)));
        assert!(!queue_entry("adt", 1, 1).starts_with(&queue_prefix("adt", 0)));
        assert_eq!(trailing_id(&queue_entry("adt", 3, 42)), Some(42));
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
