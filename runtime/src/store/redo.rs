//! The sled writes that store one message, and their write-ahead log record,
//! from which recovery redoes them.
//!
//! ```text
//! payload = id u64 | dedupe key length u32 (u32::MAX for none) | dedupe key
//!           | record (see record.rs, to the end)
//! ```
//!
//! Integers are big-endian, as in the keys. The record holds the channel,
//! partition and receive time, so the payload rebuilds all three writes.

use super::dedupe::DedupeEntry;
use super::error::StoreError;
use super::{keys, record, wal};

const NONE: u32 = u32::MAX;

/// The writes that store message `id`: its record, its queue entry and its
/// dedupe entry, if it has a dedupe key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageWrites<'a> {
    /// The new message's id.
    pub(crate) id: u64,
    /// Its channel.
    pub(crate) channel: &'a str,
    /// Its partition within the channel.
    pub(crate) partition: u32,
    /// When it was received, in milliseconds since the Unix epoch.
    pub(crate) received_at_ms: u64,
    /// Its dedupe entry's key, as stored.
    pub(crate) dedupe_key: Option<&'a [u8]>,
    /// Its encoded record.
    pub(crate) record: &'a [u8],
}

impl MessageWrites<'_> {
    /// The writes as one sled batch: sled applies it atomically, also when
    /// it recovers after a crash, so a message is never half stored there.
    pub(crate) fn batch(&self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        batch.insert(keys::message(self.id), self.record);
        batch.insert(
            keys::queue_entry(self.channel, self.partition, self.id),
            &[][..],
        );
        if let Some(key) = self.dedupe_key {
            batch.insert(key, &self.dedupe_entry().encode()[..]);
        }
        batch
    }

    /// Appends the write-ahead log record of these writes to `out`.
    pub(crate) fn frame_into(&self, out: &mut Vec<u8>) {
        wal::frame(out, |payload| {
            payload.extend_from_slice(&self.id.to_be_bytes());
            let length = match self.dedupe_key {
                Some(key) => u32::try_from(key.len()).expect("key under 4 GiB"),
                None => NONE,
            };
            payload.extend_from_slice(&length.to_be_bytes());
            payload.extend_from_slice(self.dedupe_key.unwrap_or_default());
            payload.extend_from_slice(self.record);
        });
    }

    fn dedupe_entry(&self) -> DedupeEntry {
        DedupeEntry {
            id: self.id,
            received_at_ms: self.received_at_ms,
        }
    }
}

/// Redoes the writes of one write-ahead log record unless its message is
/// already in `db` (batches are atomic, so then all of them are); returns
/// whether it did. Idempotent. A dedupe entry that already names a newer
/// message is left alone.
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] for a payload that does not
/// decode (its CRC matched, so it was written that way).
pub(crate) fn redo(db: &sled::Db, payload: &[u8]) -> Result<bool, StoreError> {
    let Payload {
        id,
        dedupe_key,
        record,
    } = decode(payload)?;
    if db.contains_key(keys::message(id))? {
        return Ok(false);
    }
    let message = record::decode(id, record)?;
    let mut writes = MessageWrites {
        id,
        channel: &message.channel,
        partition: message.partition,
        received_at_ms: message.received_at_ms,
        dedupe_key,
        record,
    };
    if let Some(key) = dedupe_key
        && let Some(value) = db.get(key)?
        && DedupeEntry::decode(key, &value)?.id > id
    {
        writes.dedupe_key = None;
    }
    db.apply_batch(writes.batch())?;
    Ok(true)
}

/// A log record's payload, split.
struct Payload<'a> {
    id: u64,
    dedupe_key: Option<&'a [u8]>,
    record: &'a [u8],
}

/// Splits a payload into id, dedupe key and record.
fn decode(payload: &[u8]) -> Result<Payload<'_>, StoreError> {
    let corrupt = || StoreError::Corrupt {
        key: "write-ahead log record".to_owned(),
        reason: "truncated payload".to_owned(),
    };
    let (id, rest) = payload.split_first_chunk::<8>().ok_or_else(corrupt)?;
    let (length, rest) = rest.split_first_chunk::<4>().ok_or_else(corrupt)?;
    let (dedupe_key, record) = match u32::from_be_bytes(*length) {
        NONE => (None, rest),
        length => {
            let (key, record) = rest.split_at_checked(length as usize).ok_or_else(corrupt)?;
            (Some(key), record)
        }
    };
    Ok(Payload {
        id: u64::from_be_bytes(*id),
        dedupe_key,
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::NewMessage;

    /// Ensures that redoing a record stores the message, queue entry and
    /// dedupe entry once, however often it is replayed.
    #[test]
    fn redo_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let message = NewMessage {
            channel: "adt",
            partition: 2,
            raw: b"MSH|^~\\&|APP\r",
            received_at_ms: 1_000,
            peer: None,
            control_id: Some("C1"),
            message_type: None,
            dedupe_key: None,
        };
        let record = record::encode(&message);
        let mut framed = Vec::new();
        let writes = MessageWrites {
            id: 7,
            channel: "adt",
            partition: 2,
            received_at_ms: 1_000,
            dedupe_key: Some(b"d/key"),
            record: &record,
        };
        writes.frame_into(&mut framed);
        let payload = &framed[8..];

        assert!(redo(&db, payload).unwrap());
        assert!(!redo(&db, payload).unwrap());
        assert_eq!(db.len(), 3);
        assert_eq!(db.get(keys::message(7)).unwrap().unwrap(), record);
        assert!(db.contains_key(keys::queue_entry("adt", 2, 7)).unwrap());
        let entry = DedupeEntry::decode(b"d/key", &db.get(b"d/key").unwrap().unwrap()).unwrap();
        assert_eq!(entry.id, 7);
    }
}
