//! Outbound entries kept in memory only: those that deliver the inbound
//! message as received and have not failed yet, the common case of a
//! pass-through or a routing channel.
//!
//! Inserting an entry into sled and removing it once delivered cost two
//! B-tree writes per delivery (see docs/BENCHMARKS.md, "Outbound entries in
//! memory"). Such an entry needs no body of its own, so the pipeline keeps
//! it here instead and records where it waits (destination, partition,
//! sequence, content type) in the message's status, which it writes to
//! sled anyway ([`HeldOutput`]). An entry leaves memory for sled when it
//! fails (its attempts must survive a restart), when it goes to the
//! dead-letter queue, and when it has waited through [`SPILL_AFTER`]
//! checkpoints (a destination that is down or slow): sled then holds it
//! under the same key, so its place in the queue does not change, and its
//! message's status stops naming it (after the entry's own write), so that
//! opening the store never holds it again, wherever it went next: delivered
//! from sled, purged or reprocessed from the dead-letter queue.
//!
//! # After a crash
//!
//! Each checkpoint records a low-water mark under [`keys::OUTBOUND_LOW_WATER`]
//! before it flushes: no greater than the message of any entry held, nor
//! than the inbound queues' mark (messages still to be processed). Only a
//! message at or above the mark (as this store last knew it) may have its
//! entries held; the pipeline writes the entries of older ones (a
//! reprocessed dead letter, say) to sled. Opening the store reads the
//! statuses from the mark on and holds again every output they record,
//! except those sled holds (failed or spilled since), those with a dead
//! letter and those delivered. Deliveries are recorded in the delivery log
//! (`delivery_log.rs`), a store into a mapped file each, which survives a
//! crash of the process but not of the machine: after a power loss, the outputs
//! delivered since about the last [`SPILL_AFTER`] checkpoints go again (at
//! least once), as the removals of delivered sled entries that sled had not
//! flushed always did.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::dead_letter::DeadLetterHeader;
use super::delivery_log::DeliveryLog;
use super::error::StoreError;
use super::outbound::OutboundHeader;
use super::{framed, keys, queues, record};

/// How many checkpoints an entry may wait through in memory before the
/// next spills it to sled.
const SPILL_AFTER: u64 = 2;

/// The most entries spilled under one hold of the lock, so that a large
/// backlog going to sled does not stall the pipeline and the deliveries.
const SPILL_BATCH: usize = 1024;

/// The most entries one checkpoint spills; the next ones spill the rest,
/// and the mark stays below them meanwhile.
const SPILL_PER_CHECKPOINT: usize = 1 << 14;

/// Where one held output of a message waits, as its status records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HeldOutput {
    /// The destination's name.
    pub(crate) destination: String,
    /// The partition of its queue.
    pub(crate) partition: u32,
    /// Its sequence in that queue.
    pub(crate) sequence: u64,
    /// The payload's content type.
    pub(crate) content_type: String,
}

/// An entry in memory, with the checkpoint it was held after.
#[derive(Debug)]
struct Held {
    header: OutboundHeader,
    since: u64,
}

#[derive(Debug)]
struct Entries {
    // By sled key, so that a queue is a key range in sled's order.
    held: BTreeMap<Vec<u8>, Held>,
    // The mark as this store last wrote it: entries of older messages go
    // to sled.
    mark: u64,
    checkpoints: u64,
    log: DeliveryLog,
}

/// The outbound entries held in memory, by their sled keys.
#[derive(Debug)]
pub(crate) struct HeldOutbound {
    entries: Mutex<Entries>,
}

impl HeldOutbound {
    /// None held yet, with the delivery log of the store in `store_dir`
    /// ([`HeldOutbound::rebuild`] reads it).
    pub(crate) fn new(store_dir: &std::path::Path) -> Self {
        let entries = Entries {
            held: BTreeMap::new(),
            mark: 0,
            checkpoints: 0,
            log: DeliveryLog::new(store_dir),
        };
        HeldOutbound {
            entries: Mutex::new(entries),
        }
    }

    /// Holds the entry under `key` in memory, unless its message lies below
    /// the mark; `false` then, and the caller writes it to sled.
    pub(crate) fn hold(&self, key: &[u8], header: &OutboundHeader) -> bool {
        let mut entries = self.lock();
        if header.message_id < entries.mark {
            return false;
        }
        let since = entries.checkpoints;
        let header = header.clone();
        entries.held.insert(key.to_vec(), Held { header, since });
        true
    }

    /// Drops the entry under `key` (delivered) and records its delivery;
    /// `false` if it is not held.
    pub(crate) fn release(&self, key: &[u8]) -> bool {
        let mut entries = self.lock();
        let Some(held) = entries.held.remove(key) else {
            return false;
        };
        let sequence = keys::trailing_id(key).expect("outbound keys end in an id");
        entries.log.record(held.header.message_id, sequence);
        true
    }

    /// Runs `write` (an entry's move to sled or to the dead-letter queue)
    /// with the entry under `key` taken out of memory, under the lock a
    /// spill takes, so that a spill cannot write an older copy over it. The
    /// entry is held again if `write` fails.
    ///
    /// # Errors
    ///
    /// Whatever `write` returns.
    pub(crate) fn moving<T>(
        &self,
        key: &[u8],
        write: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut entries = self.lock();
        let taken = entries.held.remove_entry(key);
        let written = write();
        if written.is_err()
            && let Some((key, held)) = taken
        {
            entries.held.insert(key, held);
        }
        written
    }

    /// Up to `limit` held entries whose keys start with `prefix`, in key
    /// order.
    pub(crate) fn range(&self, prefix: &[u8], limit: usize) -> Vec<(Vec<u8>, OutboundHeader)> {
        let entries = self.lock();
        entries
            .held
            .range(prefix.to_vec()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(key, held)| (key.clone(), held.header.clone()))
            .collect()
    }

    /// How many held entries' keys start with `prefix`.
    pub(crate) fn count(&self, prefix: &[u8]) -> usize {
        let entries = self.lock();
        entries
            .held
            .range(prefix.to_vec()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .count()
    }

    /// Whether a held entry under `prefix` delivers message `message_id`.
    pub(crate) fn holds_message(&self, prefix: &[u8], message_id: u64) -> bool {
        let entries = self.lock();
        entries
            .held
            .range(prefix.to_vec()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .any(|(_, held)| held.header.message_id == message_id)
    }

    /// The keys of every held entry (for the queues they are in).
    pub(crate) fn keys(&self) -> Vec<Vec<u8>> {
        self.lock().held.keys().cloned().collect()
    }

    /// The messages held entries deliver.
    pub(crate) fn messages(&self) -> HashSet<u64> {
        let entries = self.lock();
        entries.held.values().map(|h| h.header.message_id).collect()
    }

    /// Spills the entries held through [`SPILL_AFTER`] checkpoints to sled
    /// and writes the mark: the lowest message id still held, or
    /// `inbound_mark` (the inbound queues' mark) if lower. For a
    /// checkpoint, before it flushes `db`.
    ///
    /// # Errors
    ///
    /// Any sled error; what was spilled until then stays spilled.
    pub(crate) fn checkpoint(&self, db: &sled::Db, inbound_mark: u64) -> Result<(), StoreError> {
        let checkpoint = self.lock().checkpoints;
        let mut budget = SPILL_PER_CHECKPOINT;
        while budget > 0 {
            let batch = SPILL_BATCH.min(budget);
            let due = |_: &[u8], held: &Held| held.since + SPILL_AFTER <= checkpoint;
            let spilled = spill(&mut self.lock(), db, batch, due)?.len();
            if spilled < batch {
                break;
            }
            budget -= spilled;
        }
        let mut entries = self.lock();
        let held_low = entries.held.values().map(|h| h.header.message_id).min();
        let mark = held_low.map_or(inbound_mark, |low| low.min(inbound_mark));
        db.insert(keys::OUTBOUND_LOW_WATER, &mark.to_be_bytes()[..])?;
        // The previous mark was flushed with the previous checkpoint.
        let durable = entries.mark;
        entries.log.checkpoint(durable);
        entries.mark = mark;
        entries.checkpoints += 1;
        Ok(())
    }

    /// Spills every held entry whose key starts with `prefix` to sled, and
    /// returns their messages, in order: for a change of partitioning,
    /// which moves the entries sled holds.
    ///
    /// # Errors
    ///
    /// Any sled error; what was spilled until then stays spilled.
    pub(crate) fn spill_all(&self, db: &sled::Db, prefix: &[u8]) -> Result<Vec<u64>, StoreError> {
        let due = |key: &[u8], _: &Held| key.starts_with(prefix);
        let mut spilled = spill(&mut self.lock(), db, usize::MAX, due)?;
        spilled.sort_unstable();
        spilled.dedup();
        Ok(spilled)
    }

    /// Replaces the held entries with those the statuses in `db` record
    /// from its mark on, leaving out those delivered, those sled holds and
    /// those with a dead letter. Returns how many are held.
    ///
    /// # Errors
    ///
    /// Any sled error, and [`StoreError::Corrupt`] for a status, record,
    /// dead letter or mark that does not decode.
    pub(crate) fn rebuild(&self, db: &sled::Db) -> Result<usize, StoreError> {
        let mut entries = self.lock();
        entries.held.clear();
        let delivered = entries.log.read().unwrap_or_else(|error| {
            tracing::warn!(%error, "Delivery log not read; entries delivered before the crash go again.");
            HashSet::new()
        });
        let Some(mark) = queues::read_mark(db, keys::OUTBOUND_LOW_WATER)? else {
            // A new store, or one from before held entries: none to hold.
            return Ok(0);
        };
        entries.mark = mark;
        let dead = dead_lettered_since(db, mark)?;
        for item in db.range(keys::status(mark)..keys::status(u64::MAX)) {
            let (key, value) = item?;
            let id = keys::trailing_id(&key).expect("status keys end in an id");
            let outputs = super::status::held_outputs(&key, &value)?;
            if outputs.is_empty() {
                continue;
            }
            let Some(record) = db.get(keys::message(id))? else {
                continue;
            };
            let message = record::decode(id, &record)?;
            for output in outputs {
                let key = keys::outbound_entry(
                    &message.channel,
                    &output.destination,
                    output.partition,
                    output.sequence,
                );
                let lettered = (message.channel.clone(), output.destination.clone(), id);
                let done = delivered.contains(&output.sequence) || dead.contains(&lettered);
                if done || db.contains_key(&key)? {
                    continue;
                }
                let mut header = OutboundHeader::new(
                    id,
                    message.received_at_ms,
                    message.control_id.clone(),
                    message.message_type.clone(),
                    output.content_type,
                );
                header.body_in_message = true;
                let since = entries.checkpoints;
                entries.held.insert(key, Held { header, since });
            }
        }
        Ok(entries.held.len())
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().expect("lock not poisoned")
    }
}

/// Writes up to `limit` of the held entries `due` picks to sled, each under
/// its own key, drops them from memory, rewrites their messages' statuses
/// without them and returns their messages, one per entry.
fn spill(
    entries: &mut Entries,
    db: &sled::Db,
    limit: usize,
    due: impl Fn(&[u8], &Held) -> bool,
) -> Result<Vec<u64>, StoreError> {
    let keys: Vec<Vec<u8>> = entries
        .held
        .iter()
        .filter(|(key, held)| due(key, held))
        .take(limit)
        .map(|(key, _)| key.clone())
        .collect();
    let mut messages = Vec::with_capacity(keys.len());
    let mut left: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for key in keys {
        let held = &entries.held[&key];
        db.insert(&key[..], framed::encode(&held.header, &[]))?;
        let sequence = keys::trailing_id(&key).expect("outbound keys end in an id");
        messages.push(held.header.message_id);
        let sequences = left.entry(held.header.message_id).or_default();
        sequences.push(sequence);
        entries.held.remove(&key);
    }
    // After the entries (see `Store::retry_later`): the statuses stop
    // naming what sled holds now.
    for (id, sequences) in &left {
        if let Some(status) = super::status::without_held(db, *id, sequences)? {
            db.insert(keys::status(*id), status)?;
        }
    }
    Ok(messages)
}

/// The (channel, destination, message) of every destination's dead letter
/// written from sequence `mark` on: a held entry goes to the dead-letter
/// queue after its message was processed, so its letter's sequence is
/// greater than its message's id.
fn dead_lettered_since(
    db: &sled::Db,
    mark: u64,
) -> Result<HashSet<(String, String, u64)>, StoreError> {
    let mut lettered = HashSet::new();
    let end = keys::dead_letter(u64::MAX);
    for item in db.range(keys::dead_letter(mark)..=end) {
        let (key, value) = item?;
        let header: DeadLetterHeader = framed::decode_header(&key, &value)?;
        if let Some(destination) = header.destination {
            lettered.insert((header.channel, destination, header.message_id));
        }
    }
    Ok(lettered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::status::{MessageState, MessageStatus, encode_with_held, held_outputs};

    fn header(message_id: u64) -> OutboundHeader {
        let mut header = OutboundHeader::new(message_id, 1, None, None, "text/plain".into());
        header.body_in_message = true;
        header
    }

    fn db() -> (tempfile::TempDir, sled::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        (dir, db)
    }

    /// Ensures that entries are held and released by key, listed in key
    /// order within a prefix, and that an entry of a message below the
    /// mark is refused.
    #[test]
    fn holds_lists_and_releases_entries_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let held = HeldOutbound::new(dir.path());
        let prefix = keys::outbound_prefix("adt", "out", 0);
        let (first, second) = (
            keys::outbound_entry("adt", "out", 0, 7),
            keys::outbound_entry("adt", "out", 0, 9),
        );
        assert!(held.hold(&second, &header(2)));
        assert!(held.hold(&first, &header(1)));
        assert!(held.hold(&keys::outbound_entry("adt", "other", 0, 8), &header(1)));
        let listed: Vec<_> = held
            .range(&prefix, 10)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(listed, [first.clone(), second.clone()]);
        assert_eq!(held.count(&prefix), 2);
        assert!(held.holds_message(&prefix, 2) && !held.holds_message(&prefix, 3));
        assert!(held.release(&first));
        assert!(!held.release(&first), "released once");
        assert_eq!(held.count(&prefix), 1);

        // Message 1 is still held (for "other"), so the mark is 1.
        let (_dir, db) = db();
        held.checkpoint(&db, 5).unwrap();
        assert!(!held.hold(&keys::outbound_entry("adt", "out", 0, 10), &header(0)));
        assert!(held.hold(&keys::outbound_entry("adt", "out", 0, 11), &header(1)));
    }

    /// Ensures that an entry waits in memory through two checkpoints and is
    /// spilled to sled under its own key by the third, its message's status
    /// then naming only its other held output, and that the mark is the
    /// lowest message held or the inbound mark, whichever is lower.
    #[test]
    fn checkpoints_spill_long_held_entries_and_write_the_mark() {
        let (_dir, db) = db();
        let dir = tempfile::tempdir().unwrap();
        let held = HeldOutbound::new(dir.path());
        let key = keys::outbound_entry("adt", "out", 0, 7);
        assert!(held.hold(&key, &header(4)));
        let output = |destination: &str, sequence| HeldOutput {
            destination: destination.into(),
            partition: 0,
            sequence,
            content_type: "text/plain".into(),
        };
        let status = MessageStatus::new(MessageState::Processed, 1);
        let outputs = [output("out", 7), output("other", 8)];
        db.insert(keys::status(4), encode_with_held(&status, &outputs))
            .unwrap();
        let mark = || {
            queues::read_mark(&db, keys::OUTBOUND_LOW_WATER)
                .unwrap()
                .unwrap()
        };
        held.checkpoint(&db, 10).unwrap();
        assert_eq!(mark(), 4, "the held message");
        held.checkpoint(&db, 3).unwrap();
        assert_eq!(mark(), 3, "the inbound queues' mark");
        assert!(db.get(&key).unwrap().is_none(), "still in memory");
        held.checkpoint(&db, 10).unwrap();
        let (stored, _): (OutboundHeader, Vec<u8>) =
            framed::decode(&key, &db.get(&key).unwrap().unwrap()).unwrap();
        assert_eq!(stored, header(4), "spilled as it was held");
        assert_eq!(held.count(keys::OUTBOUND_PREFIX), 0);
        assert_eq!(mark(), 10);
        let status_key = keys::status(4);
        let named = held_outputs(&status_key, &db.get(&status_key).unwrap().unwrap());
        assert_eq!(
            named.unwrap(),
            [output("other", 8)],
            "sled holds the spilled one"
        );
    }

    /// Ensures that a failed move holds the entry again.
    #[test]
    fn a_failed_move_keeps_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let held = HeldOutbound::new(dir.path());
        let key = keys::outbound_entry("adt", "out", 0, 7);
        assert!(held.hold(&key, &header(4)));
        let failed: Result<(), _> = held.moving(&key, || {
            assert!(held.entries.try_lock().is_err(), "moved under the lock");
            Err(StoreError::unavailable("disk full"))
        });
        assert!(failed.is_err());
        assert!(held.release(&key), "held again");
    }

    /// Ensures that delivery files do not pile up: once the durable mark
    /// is past their messages, a checkpoint deletes them, empty ones too.
    #[test]
    fn delivery_files_go_once_the_mark_passes_them() {
        let (dir, db) = db();
        let held = HeldOutbound::new(dir.path());
        assert_eq!(held.rebuild(&db).unwrap(), 0);
        let key = keys::outbound_entry("adt", "out", 0, 7);
        assert!(held.hold(&key, &header(4)));
        assert!(held.release(&key));
        for _ in 0..4 {
            held.checkpoint(&db, 9).unwrap();
        }
        let files = std::fs::read_dir(dir.path().join("delivered"))
            .unwrap()
            .count();
        assert_eq!(files, 1, "the current file only");
    }
}
