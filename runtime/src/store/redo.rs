//! The sled writes that store one message, and their write-ahead log record,
//! from which the indexer applies them and recovery redoes them.
//!
//! ```text
//! payload = id u64 | dedupe key length u32 (u32::MAX for none) | dedupe key
//!           | record (see record.rs, to the end)
//! ```
//!
//! Integers are big-endian, as in the keys. The record holds the channel,
//! partition and receive time, so the payload rebuilds both writes and the
//! message's place in its inbound queue.

use super::dedupe::{self, DedupeEntry};
use super::dedupe_filter::DedupeFilter;
use super::error::StoreError;
use super::queues::InboundQueues;
use super::{keys, record, wal};

const NONE: u32 = u32::MAX;

/// The writes that store message `id`: its record and its dedupe entry, if
/// it has a dedupe key.
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
    /// The [`dedupe::fingerprint`] of its raw bytes.
    pub(crate) fingerprint: u32,
}

impl MessageWrites<'_> {
    /// Makes the writes as plain sled inserts, the record last: as sled
    /// recovers a prefix of its log after a crash, a record there means its
    /// dedupe entry is there as well (see [`redo`]). Plain inserts, not a
    /// batch: sled writes and syncs its log buffer for every batch. Returns
    /// whether sled held no entry under the dedupe key before.
    pub(crate) fn insert_into(&self, db: &sled::Db) -> Result<bool, StoreError> {
        let mut new_key = false;
        if let Some(key) = self.dedupe_key {
            new_key = db.insert(key, &self.dedupe_entry().encode()[..])?.is_none();
        }
        db.insert(keys::message(self.id), self.record)?;
        Ok(new_key)
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

    /// The dedupe entry these writes store under their dedupe key.
    pub(crate) fn dedupe_entry(&self) -> DedupeEntry {
        DedupeEntry {
            id: self.id,
            received_at_ms: self.received_at_ms,
            fingerprint: Some(self.fingerprint),
        }
    }
}

/// Makes the writes of a group of framed log records (see `wal.rs`) in
/// `db`, queues each message in `queues` once its writes are made, counts
/// the dedupe keys it adds in `dedupe_filter`, and returns the dedupe keys
/// it stored with their message ids.
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] for a payload that does not
/// decode.
pub(crate) fn apply_group(
    db: &sled::Db,
    records: &[u8],
    queues: &InboundQueues,
    dedupe_filter: &DedupeFilter,
) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
    let mut dedupe_keys = Vec::new();
    for payload in wal::payloads(records) {
        let writes = writes_of(payload)?;
        let new_key = writes.insert_into(db)?;
        queues.push(writes.channel, writes.partition, writes.id);
        if let Some(key) = writes.dedupe_key {
            if new_key {
                dedupe_filter.added(key);
            }
            dedupe_keys.push((key.to_vec(), writes.id));
        }
    }
    Ok(dedupe_keys)
}

/// Redoes the writes of one write-ahead log record unless `db` holds them
/// both, and returns the message's id and whether it redid them.
/// Idempotent. A dedupe entry that already names a newer message is left
/// alone.
///
/// `db` holds them both when it has the record (written last) and no dedupe
/// entry is missing or older.
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] for a payload that does not
/// decode (its CRC matched, so it was written that way).
pub(crate) fn redo(db: &sled::Db, payload: &[u8]) -> Result<(u64, bool), StoreError> {
    let mut writes = writes_of(payload)?;
    let id = writes.id;
    let indexed = match writes.dedupe_key {
        Some(key) => match db.get(key)? {
            Some(value) => Some(DedupeEntry::decode(key, &value)?.id),
            None => None,
        },
        None => Some(id),
    };
    if db.contains_key(keys::message(id))? && indexed.is_some_and(|indexed| indexed >= id) {
        return Ok((id, false));
    }
    if indexed.is_some_and(|indexed| indexed > id) {
        writes.dedupe_key = None;
    }
    writes.insert_into(db)?;
    Ok((id, true))
}

/// The writes a log record's payload holds.
fn writes_of(payload: &[u8]) -> Result<MessageWrites<'_>, StoreError> {
    let Payload {
        id,
        dedupe_key,
        record,
    } = decode(payload)?;
    let route = record::route(id, record)?;
    Ok(MessageWrites {
        id,
        channel: route.channel,
        partition: route.partition,
        received_at_ms: route.received_at_ms,
        dedupe_key,
        record,
        // Only a dedupe entry needs it.
        fingerprint: dedupe_key.map_or(0, |_| dedupe::fingerprint(route.raw)),
    })
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

    /// Ensures that redoing a record stores the message and dedupe entry
    /// once, however often it is replayed, and that applying a group queues
    /// its messages.
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
            peer_certificate: None,
            control_id: Some("C1"),
            message_type: None,
            dedupe_key: None,
            dedupe_window: None,
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
            fingerprint: dedupe::fingerprint(message.raw),
        };
        writes.frame_into(&mut framed);
        let payload = &framed[8..];

        assert_eq!(redo(&db, payload).unwrap(), (7, true));
        assert_eq!(redo(&db, payload).unwrap(), (7, false));
        db.remove(b"d/key").unwrap();
        assert!(
            redo(&db, payload).unwrap().1,
            "a lost dedupe entry is redone"
        );
        let newer = DedupeEntry {
            id: 9,
            received_at_ms: 2_000,
            fingerprint: Some(1),
        };
        db.insert(b"d/key", &newer.encode()[..]).unwrap();
        db.remove(keys::message(7)).unwrap();
        assert!(redo(&db, payload).unwrap().1, "a lost record is redone");
        let entry = DedupeEntry::decode(b"d/key", &db.get(b"d/key").unwrap().unwrap()).unwrap();
        assert_eq!(entry.id, 9, "a newer message keeps its dedupe entry");
        db.remove(b"d/key").unwrap();

        let queues = InboundQueues::default();
        let filter = DedupeFilter::default();
        assert_eq!(
            apply_group(&db, &framed, &queues, &filter).unwrap(),
            [(b"d/key".to_vec(), 7)],
            "applying the group again rewrites the same keys"
        );
        assert_eq!(db.len(), 2);
        assert_eq!(db.get(keys::message(7)).unwrap().unwrap(), record);
        assert_eq!(queues.first("adt", 2, 10, |_| false), [7]);
        assert!(filter.may_hold(b"d/key"), "the dedupe key it added");
        let entry = DedupeEntry::decode(b"d/key", &db.get(b"d/key").unwrap().unwrap()).unwrap();
        assert_eq!(entry.id, 7);
        assert_eq!(
            entry.fingerprint,
            Some(dedupe::fingerprint(message.raw)),
            "the fingerprint comes back from the record"
        );
    }
}
