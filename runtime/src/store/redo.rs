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
use super::dedupe_index::Chunk;
use super::error::StoreError;
use super::queues::InboundQueues;
use super::recent_records::RecentRecords;
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
    /// Inserts the record into sled, as a plain insert: sled writes and
    /// syncs its log buffer for every batch.
    pub(crate) fn insert_record(&self, db: &sled::Db) -> Result<(), StoreError> {
        db.insert(keys::message(self.id), self.record)?;
        Ok(())
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

    /// The dedupe key and entry of the message, if it has a dedupe key.
    pub(crate) fn dedupe(&self) -> Option<(&[u8], DedupeEntry)> {
        let entry = DedupeEntry {
            id: self.id,
            received_at_ms: self.received_at_ms,
            fingerprint: Some(self.fingerprint),
        };
        Some((self.dedupe_key?, entry))
    }
}

/// Makes the writes of a group of framed log records (see `wal.rs`) in
/// `db`: one chunk with the group's dedupe entries, then each message's
/// record, keeping a copy in `recent` and queuing the message in `queues`
/// once its record is written.
/// The chunk goes first: as sled recovers a prefix of its log after a
/// crash, a record there means its dedupe entry is there as well.
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] for a payload that does not
/// decode.
pub(crate) fn apply_group(
    db: &sled::Db,
    records: &[u8],
    queues: &InboundQueues,
    recent: &RecentRecords,
) -> Result<(), StoreError> {
    let writes = wal::payloads(records)
        .map(writes_of)
        .collect::<Result<Vec<_>, _>>()?;
    let mut chunk = Chunk::default();
    for (key, entry) in writes.iter().filter_map(MessageWrites::dedupe) {
        chunk.push(key, entry);
    }
    chunk.store(db)?;
    for writes in &writes {
        writes.insert_record(db)?;
        recent.insert(writes.id, writes.record);
        queues.push(writes.channel, writes.partition, writes.id);
    }
    Ok(())
}

/// Redoes the record of one write-ahead log record unless `db` holds it,
/// and returns the writes it holds and whether it redid the record.
/// Idempotent. The dedupe entry is the caller's: recovery adds the entries
/// of every replayed record to the index and stores them as one chunk.
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] for a payload that does not
/// decode (its CRC matched, so it was written that way).
pub(crate) fn redo<'a>(
    db: &sled::Db,
    payload: &'a [u8],
) -> Result<(MessageWrites<'a>, bool), StoreError> {
    let writes = writes_of(payload)?;
    if db.contains_key(keys::message(writes.id))? {
        return Ok((writes, false));
    }
    writes.insert_record(db)?;
    Ok((writes, true))
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
    use crate::store::dedupe_index::DedupeIndex;
    use crate::store::record::NewMessage;

    /// Ensures that redoing a record stores the message once, however
    /// often it is replayed, and that applying a group stores its dedupe
    /// entries in a chunk, keeps its records in memory and queues its
    /// messages.
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

        let redone = |db: &sled::Db| redo(db, payload).unwrap().1;
        assert!(redone(&db));
        assert!(!redone(&db), "held already");
        assert_eq!(db.len(), 1, "the record only");
        db.remove(keys::message(7)).unwrap();
        assert!(redone(&db), "a lost record is redone");
        assert_eq!(
            redo(&db, payload).unwrap().0.dedupe(),
            writes.dedupe(),
            "the dedupe entry is the caller's"
        );
        db.clear().unwrap();

        let (queues, recent) = (InboundQueues::default(), RecentRecords::default());
        apply_group(&db, &framed, &queues, &recent).unwrap();
        apply_group(&db, &framed, &queues, &recent).unwrap();
        assert_eq!(db.len(), 2, "applying again rewrites the same keys");
        assert_eq!(db.get(keys::message(7)).unwrap().unwrap(), record);
        assert_eq!(
            recent.get(7).as_deref(),
            Some(&record[..]),
            "kept in memory"
        );
        assert_eq!(queues.first("adt", 2, 10, |_| false), [7]);
        let index = DedupeIndex::default();
        assert_eq!(index.load(&db).unwrap(), 1);
        let entry = index.get(b"d/key").unwrap();
        assert_eq!(entry.id, 7);
        assert_eq!(
            entry.fingerprint,
            Some(dedupe::fingerprint(message.raw)),
            "the fingerprint comes back from the record"
        );
    }
}
