//! The inbound queues, kept in memory and rebuilt from sled at open.
//!
//! A message is queued while sled holds its record and no processing status
//! that ends its stay ([`MessageState::is_queued`]). sled keeps no queue
//! entry for most messages: inserting, scanning and removing one per message
//! cost about a third of the store's CPU (see `runtime/benches/sled_layout.rs`).
//!
//! Rebuilding must not read every message ever stored, so each checkpoint
//! records a low-water mark under [`keys::QUEUE_LOW_WATER`] before it
//! flushes: no greater than any message queued in memory only, or the next
//! id when there is none. A message queued after a crash is therefore
//! - at or above the mark: opening reads every record from the mark on and
//!   queues those without a final status;
//! - or still in the write-ahead log, whose records opening also reads;
//! - or below the mark with a queue entry in sled (`q/`, see
//!   [`keys::queue_entry`]): the checkpoint spills the messages queued for
//!   long ([`SPILL_LAG`] ids behind the next one) as entries, so that a
//!   paused channel does not hold the mark back and make every restart read
//!   all the messages stored since; reprocessing a dead letter or a stored
//!   message queues it with an entry too. An entry goes once its message's final status is
//!   written; one left over by a crash in between is dropped at open.
//!
//! Stores from before the in-memory queues held an entry for every queued
//! message and no mark: opening such a store keeps its entries as spilled
//! ones, and sets the status of those whose status is final (reprocessed
//! dead letters kept theirs then) to requeued.
//!
//! The checkpoint spills and writes the mark under the queues' lock, so no
//! message leaves memory-only between the two.
//!
//! A message's record names the partition it was stored in. When a
//! channel's partitioning changes, its queued messages move to the
//! partitions the new one gives them, each with a queue entry
//! ([`InboundQueues::repartition`]): an entry's key, not the record, then
//! says where the message waits.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::error::StoreError;
use super::status::{self, MessageState};
use super::{keys, record};

/// How many ids a message may lag behind the next id, queued in memory
/// only, before a checkpoint spills it to a queue entry: this bounds what
/// opening reads to about this many messages (ids also number outbound
/// entries, so a little fewer).
const SPILL_LAG: u64 = 1 << 16;

/// The most messages one checkpoint spills, so that a large backlog going
/// old at once does not hold the queues' lock for long; the next
/// checkpoints spill the rest, and the mark stays below them meanwhile.
const SPILL_PER_CHECKPOINT: usize = 1 << 14;

/// How many messages one atomic write of a repartitioning moves.
pub(crate) const MOVES_PER_WRITE: usize = 1024;

/// One partition's queue: ids in memory only and ids with a queue entry in
/// sled, together in id (arrival) order.
#[derive(Debug, Default)]
struct Queue {
    held: BTreeSet<u64>,
    spilled: BTreeSet<u64>,
}

impl Queue {
    /// How many messages wait.
    fn len(&self) -> usize {
        self.held.len() + self.spilled.len()
    }

    /// Whether message `id` waits here.
    fn contains(&self, id: u64) -> bool {
        self.held.contains(&id) || self.spilled.contains(&id)
    }

    /// Every id, in order.
    fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        let (mut held, mut spilled) = (self.held.iter().peekable(), self.spilled.iter().peekable());
        std::iter::from_fn(move || {
            let next = match (held.peek(), spilled.peek()) {
                (Some(a), Some(b)) if b < a => spilled.next(),
                (Some(_), _) => held.next(),
                (None, _) => spilled.next(),
            };
            next.copied()
        })
    }
}

/// Queues by channel and partition.
type Queues = HashMap<String, HashMap<u32, Queue>>;

/// The inbound queue of every channel partition.
#[derive(Debug, Default)]
pub(crate) struct InboundQueues {
    queues: Mutex<Queues>,
}

impl InboundQueues {
    /// Queues message `id`, in memory only.
    pub(crate) fn push(&self, channel: &str, partition: u32, id: u64) {
        let mut queues = self.lock();
        // Looked up before the name is copied: the indexer queues every
        // message, and a channel is new only once.
        if let Some(partitions) = queues.get_mut(channel) {
            partitions.entry(partition).or_default().held.insert(id);
            return;
        }
        queue_of(&mut queues, channel, partition).held.insert(id);
    }

    /// Takes message `id` out of its queue, once its final status is
    /// written, and removes its queue entry if it has one.
    ///
    /// # Errors
    ///
    /// Any sled error.
    pub(crate) fn remove(
        &self,
        db: &sled::Db,
        channel: &str,
        partition: u32,
        id: u64,
    ) -> Result<(), StoreError> {
        let mut queues = self.lock();
        let Some(queue) = queues.get_mut(channel).and_then(|p| p.get_mut(&partition)) else {
            return Ok(());
        };
        if queue.spilled.remove(&id) {
            db.remove(keys::queue_entry(channel, partition, id))?;
        }
        queue.held.remove(&id);
        Ok(())
    }

    /// Every channel partition with messages queued.
    pub(crate) fn nonempty(&self) -> Vec<(String, u32)> {
        let queues = self.lock();
        let mut found = Vec::new();
        for (channel, partitions) in queues.iter() {
            for (partition, queue) in partitions {
                if queue.len() > 0 {
                    found.push((channel.clone(), *partition));
                }
            }
        }
        found
    }

    /// Whether message `id` is queued in any of `channel`'s partitions (its
    /// record may name another than the one it waits in).
    pub(crate) fn contains(&self, channel: &str, id: u64) -> bool {
        self.partition_of(channel, id).is_some()
    }

    /// The partition of `channel` where message `id` waits, if it does.
    pub(crate) fn partition_of(&self, channel: &str, id: u64) -> Option<u32> {
        let queues = self.lock();
        let partitions = queues.get(channel)?;
        partitions
            .iter()
            .find_map(|(partition, queue)| queue.contains(id).then_some(*partition))
    }

    /// Up to `limit` ids of one queue, oldest first, leaving out those
    /// `skip` names.
    pub(crate) fn first(
        &self,
        channel: &str,
        partition: u32,
        limit: usize,
        skip: impl Fn(u64) -> bool,
    ) -> Vec<u64> {
        let queues = self.lock();
        let Some(queue) = queues.get(channel).and_then(|p| p.get(&partition)) else {
            return Vec::new();
        };
        queue.ids().filter(|id| !skip(*id)).take(limit).collect()
    }

    /// Spills the messages queued for long and writes the low-water mark:
    /// the lowest id queued in memory only, or `next_id`. For a checkpoint,
    /// once every log record it will retire is indexed, and before it
    /// flushes `db`. Returns the mark.
    ///
    /// # Errors
    ///
    /// Any sled error.
    pub(crate) fn record_low_water(&self, db: &sled::Db, next_id: u64) -> Result<u64, StoreError> {
        let mut queues = self.lock();
        let old = next_id.saturating_sub(SPILL_LAG);
        let mut mark = next_id;
        let mut budget = SPILL_PER_CHECKPOINT;
        for (channel, partitions) in queues.iter_mut() {
            for (partition, queue) in partitions.iter_mut() {
                while budget > 0
                    && let Some(id) = queue.held.first().copied().filter(|id| *id < old)
                {
                    db.insert(keys::queue_entry(channel, *partition, id), &[][..])?;
                    queue.held.remove(&id);
                    queue.spilled.insert(id);
                    budget -= 1;
                }
                mark = queue.held.first().map_or(mark, |first| mark.min(*first));
            }
        }
        db.insert(keys::QUEUE_LOW_WATER, &mark.to_be_bytes()[..])?;
        Ok(mark)
    }

    /// Queues message `id` again with a queue entry, applying `batch`
    /// (which must end its final status) in the same atomic write. Nothing
    /// is queued if the write fails.
    ///
    /// # Errors
    ///
    /// Any sled error.
    pub(crate) fn requeue(
        &self,
        db: &sled::Db,
        batch: sled::Batch,
        channel: &str,
        partition: u32,
        id: u64,
    ) -> Result<(), StoreError> {
        queue_again(&mut self.lock(), db, batch, channel, partition, id)
    }

    /// Queues message `id` of `channel`'s `partition` again if its status
    /// is final (it is through the pipeline), setting the status to
    /// requeued in the same atomic write as the queue entry. The check and
    /// the write hold the queues' lock, so two callers cannot both queue it.
    /// Returns whether it was queued.
    ///
    /// # Errors
    ///
    /// Any sled error, and [`StoreError::Corrupt`] for a status that does
    /// not decode.
    pub(crate) fn requeue_if_final(
        &self,
        db: &sled::Db,
        channel: &str,
        partition: u32,
        id: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut queues = self.lock();
        let Some(mut status) = status::read(db, id)?.filter(|s| !s.state.is_queued()) else {
            return Ok(false);
        };
        status.state = MessageState::Requeued;
        status.updated_at_ms = now_ms;
        let mut batch = sled::Batch::default();
        batch.insert(keys::status(id), status::encode(&status));
        queue_again(&mut queues, db, batch, channel, partition, id)?;
        Ok(true)
    }

    /// Moves every message queued in `channel` to the partition `place`
    /// gives it (from its id and the partition it waits in), with a queue
    /// entry there, in atomic writes of [`MOVES_PER_WRITE`] messages; a
    /// queue keeps id order, so messages merged into one keep their
    /// arrival order. Returns how many moved.
    ///
    /// # Errors
    ///
    /// Any sled error, and what `place` returns; the messages moved before
    /// stay moved.
    pub(crate) fn repartition(
        &self,
        db: &sled::Db,
        channel: &str,
        mut place: impl FnMut(u64, u32) -> Result<u32, StoreError>,
    ) -> Result<usize, StoreError> {
        let mut queues = self.lock();
        let Some(partitions) = queues.get(channel) else {
            return Ok(0);
        };
        let mut moves = Vec::new();
        for (&partition, queue) in partitions {
            for id in queue.ids() {
                let target = place(id, partition)?;
                if target != partition {
                    moves.push((id, partition, target, queue.spilled.contains(&id)));
                }
            }
        }
        for chunk in moves.chunks(MOVES_PER_WRITE) {
            let mut batch = sled::Batch::default();
            for &(id, from, to, spilled) in chunk {
                if spilled {
                    batch.remove(keys::queue_entry(channel, from, id));
                }
                batch.insert(keys::queue_entry(channel, to, id), &[][..]);
            }
            db.apply_batch(batch)?;
            for &(id, from, to, _) in chunk {
                let old = queue_of(&mut queues, channel, from);
                old.held.remove(&id);
                old.spilled.remove(&id);
                queue_of(&mut queues, channel, to).spilled.insert(id);
            }
        }
        Ok(moves.len())
    }

    /// Replaces every queue with what `db` holds: the messages with a queue
    /// entry, those from the low-water mark on and those named by `logged`
    /// (the write-ahead log's records), that have no final status. Returns
    /// how many are queued.
    ///
    /// # Errors
    ///
    /// Any sled error, and [`StoreError::Corrupt`] for a record, status or
    /// mark that does not decode.
    pub(crate) fn rebuild(&self, db: &sled::Db, logged: &[u64]) -> Result<usize, StoreError> {
        let mark = read_mark(db, keys::QUEUE_LOW_WATER)?;
        if mark.is_none() {
            requeue_older_entries(db)?;
        }
        let mut rebuilt = Queues::new();
        // Every message with a queue entry, whichever partition it names.
        let mut spilled = HashSet::new();
        let mut left_over = sled::Batch::default();
        for key in db.scan_prefix(keys::QUEUE_PREFIX).keys() {
            let key = key?;
            let id = keys::trailing_id(&key).expect("queue keys end in an id");
            let record = db.get(keys::message(id))?;
            // The key says where the message waits: a repartitioned
            // message's record names the partition it was stored in.
            let partition = keys::queue_partition(&key).expect("queue keys hold a partition");
            match record
                .map(|record| queued_route(db, id, &record))
                .transpose()?
            {
                Some(Some((channel, _))) => {
                    queue_of(&mut rebuilt, &channel, partition)
                        .spilled
                        .insert(id);
                    spilled.insert(id);
                }
                _ => left_over.remove(key),
            }
        }
        db.apply_batch(left_over)?;
        let mark = mark.unwrap_or(0);
        let mut hold_if_queued = |id: u64, record: &[u8]| -> Result<(), StoreError> {
            if !spilled.contains(&id)
                && let Some((channel, partition)) = queued_route(db, id, record)?
            {
                queue_of(&mut rebuilt, &channel, partition).held.insert(id);
            }
            Ok(())
        };
        for item in db.range(keys::message(mark)..keys::message(u64::MAX)) {
            let (key, record) = item?;
            let id = keys::trailing_id(&key).expect("message keys end in an id");
            hold_if_queued(id, &record)?;
        }
        for &id in logged.iter().filter(|id| **id < mark) {
            if let Some(record) = db.get(keys::message(id))? {
                hold_if_queued(id, &record)?;
            }
        }
        let queued = rebuilt.values().flat_map(HashMap::values);
        let queued = queued.map(Queue::len).sum();
        *self.lock() = rebuilt;
        Ok(queued)
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().expect("lock not poisoned")
    }
}

/// Applies `batch` with a queue entry for message `id`, and queues it in
/// memory as spilled.
fn queue_again(
    queues: &mut Queues,
    db: &sled::Db,
    mut batch: sled::Batch,
    channel: &str,
    partition: u32,
    id: u64,
) -> Result<(), StoreError> {
    batch.insert(keys::queue_entry(channel, partition, id), &[][..]);
    db.apply_batch(batch)?;
    let queue = queue_of(queues, channel, partition);
    queue.held.remove(&id);
    queue.spilled.insert(id);
    Ok(())
}

/// The queue of `channel`'s `partition`, created empty if need be.
fn queue_of<'a>(queues: &'a mut Queues, channel: &str, partition: u32) -> &'a mut Queue {
    let partitions = queues.entry(channel.to_owned()).or_default();
    partitions.entry(partition).or_default()
}

/// The channel and partition of message `id`, whose record is `record`,
/// if sled holds no final status for it.
fn queued_route(
    db: &sled::Db,
    id: u64,
    record: &[u8],
) -> Result<Option<(String, u32)>, StoreError> {
    if status::read(db, id)?.is_some_and(|status| !status.state.is_queued()) {
        return Ok(None);
    }
    let route = record::route(id, record)?;
    Ok(Some((route.channel.to_owned(), route.partition)))
}

/// For a store from before the in-memory queues, whose every queued
/// message has a queue entry: sets the status of the entries' messages whose
/// status is final (reprocessed dead letters kept theirs) to requeued.
fn requeue_older_entries(db: &sled::Db) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for key in db.scan_prefix(keys::QUEUE_PREFIX).keys() {
        let id = keys::trailing_id(&key?).expect("queue keys end in an id");
        if let Some(mut status) = status::read(db, id)?.filter(|s| !s.state.is_queued()) {
            status.state = MessageState::Requeued;
            batch.insert(keys::status(id), status::encode(&status));
        }
    }
    Ok(db.apply_batch(batch)?)
}

/// The low-water mark `db` holds under `key`, if any.
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] if it is not eight bytes.
pub(crate) fn read_mark(db: &sled::Db, key: &[u8]) -> Result<Option<u64>, StoreError> {
    let Some(value) = db.get(key)? else {
        return Ok(None);
    };
    let bytes = value[..].try_into().map_err(|_| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: format!("{} bytes, not 8", value.len()),
    })?;
    Ok(Some(u64::from_be_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::NewMessage;
    use crate::store::status::MessageStatus;

    fn store_message(db: &sled::Db, id: u64) {
        let message = NewMessage {
            channel: "adt",
            partition: 0,
            raw: b"MSH|^~\\&|APP\r",
            received_at_ms: 1_000,
            peer: None,
            peer_certificate: None,
            control_id: None,
            message_type: None,
            dedupe_key: None,
            dedupe_window: None,
        };
        db.insert(keys::message(id), record::encode(&message))
            .unwrap();
    }

    fn write_status(db: &sled::Db, id: u64, state: MessageState) {
        let status = MessageStatus::new(state, 1_000);
        db.insert(keys::status(id), serde_json::to_vec(&status).unwrap())
            .unwrap();
    }

    fn entries(db: &sled::Db) -> Vec<u64> {
        let keys = db.scan_prefix(keys::QUEUE_PREFIX).keys();
        keys.map(|key| keys::trailing_id(&key.unwrap()).unwrap())
            .collect()
    }

    /// Ensures that queues keep id order, skip what they are told to, and
    /// that a removed id is gone.
    #[test]
    fn queues_keep_id_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let queues = InboundQueues::default();
        queues.push("adt", 0, 9);
        queues.push("adt", 0, 4);
        queues.push("adt", 1, 7);
        queues.push("lab", 0, 3);
        assert_eq!(queues.first("adt", 0, 10, |_| false), [4, 9]);
        assert_eq!(queues.first("adt", 0, 10, |id| id == 4), [9]);
        assert_eq!(queues.first("adt", 0, 1, |_| false), [4]);
        assert!(queues.first("ad", 0, 10, |_| false).is_empty());
        assert!(queues.contains("lab", 3));
        assert_eq!(queues.partition_of("adt", 7), Some(1));
        queues.remove(&db, "lab", 0, 3).unwrap();
        assert!(!queues.contains("lab", 3));
    }

    /// Ensures that repartitioning moves each queued message where it is
    /// told, in id order, spilled or not, and that a rebuild finds each
    /// moved message in its new partition only (its record still names
    /// the old one).
    #[test]
    fn moved_messages_stay_moved_across_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let queues = InboundQueues::default();
        for id in [1, 2, 3, 4, 5] {
            store_message(&db, id);
            queues.push("adt", 0, id);
        }
        queues.push("lab", 0, 6);
        // Message 2 waits with a queue entry, as one queued for long.
        queue_again(&mut queues.lock(), &db, sled::Batch::default(), "adt", 0, 2).unwrap();

        let moved = queues
            .repartition(&db, "adt", |id, _| Ok(u32::from(id % 2 == 0)))
            .unwrap();
        assert_eq!(moved, 2);
        assert_eq!(queues.first("adt", 0, 10, |_| false), [1, 3, 5]);
        assert_eq!(queues.first("adt", 1, 10, |_| false), [2, 4]);
        assert_eq!(
            queues.first("lab", 0, 10, |_| false),
            [6],
            "other channels stay"
        );
        assert_eq!(entries(&db), [2, 4]);

        let rebuilt = InboundQueues::default();
        assert_eq!(rebuilt.rebuild(&db, &[]).unwrap(), 5);
        assert_eq!(rebuilt.first("adt", 0, 10, |_| false), [1, 3, 5]);
        assert_eq!(rebuilt.first("adt", 1, 10, |_| false), [2, 4]);
        rebuilt.remove(&db, "adt", 1, 2).unwrap();
        assert_eq!(entries(&db), [4]);
        assert!(!rebuilt.contains("adt", 2));
    }

    /// Ensures that a checkpoint spills the messages queued for long to
    /// queue entries and sets the mark at the oldest one left in memory,
    /// that a rebuild finds both kinds in order, and that removing a
    /// spilled message removes its entry.
    #[test]
    fn long_queued_messages_spill_and_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let next_id = SPILL_LAG + 100;
        let ids = [3, 50, SPILL_LAG + 10, SPILL_LAG + 20];
        let queues = InboundQueues::default();
        for id in ids {
            store_message(&db, id);
            queues.push("adt", 0, id);
        }
        queues.record_low_water(&db, next_id).unwrap();
        assert_eq!(entries(&db), [3, 50]);
        let mark = read_mark(&db, keys::QUEUE_LOW_WATER).unwrap().unwrap();
        assert_eq!(mark, SPILL_LAG + 10);

        let rebuilt = InboundQueues::default();
        assert_eq!(rebuilt.rebuild(&db, &[]).unwrap(), 4);
        assert_eq!(rebuilt.first("adt", 0, 10, |_| false), ids);
        write_status(&db, 3, MessageState::Processed);
        rebuilt.remove(&db, "adt", 0, 3).unwrap();
        assert_eq!(entries(&db), [50]);
        assert_eq!(rebuilt.first("adt", 0, 10, |_| false), &ids[1..]);

        // A crash between a spilled message's final status and its
        // entry's removal leaves the entry: opening drops it.
        write_status(&db, 50, MessageState::Filtered);
        assert_eq!(rebuilt.rebuild(&db, &[]).unwrap(), 2);
        assert!(entries(&db).is_empty());
    }

    /// Ensures that one checkpoint spills at most its budget and keeps the
    /// mark below what it left, and that the next spills the rest.
    #[test]
    fn a_large_backlog_spills_over_several_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let queues = InboundQueues::default();
        let backlog = SPILL_PER_CHECKPOINT as u64 + 5;
        for id in 0..backlog {
            queues.push("adt", 0, id);
        }
        let next_id = SPILL_LAG + backlog;
        let mark = |db: &sled::Db| read_mark(db, keys::QUEUE_LOW_WATER).map(Option::unwrap);
        queues.record_low_water(&db, next_id).unwrap();
        assert_eq!(entries(&db).len(), SPILL_PER_CHECKPOINT);
        assert_eq!(mark(&db).unwrap(), SPILL_PER_CHECKPOINT as u64);
        queues.record_low_water(&db, next_id).unwrap();
        assert_eq!(entries(&db).len() as u64, backlog);
        assert_eq!(mark(&db).unwrap(), next_id);
        assert_eq!(queues.first("adt", 0, 3, |_| false), [0, 1, 2]);
    }

    /// Ensures that only a message through the pipeline is queued again,
    /// once, as requeued with its stage records kept, and that a restart
    /// finds it queued.
    #[test]
    fn only_a_message_with_a_final_status_is_requeued() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        for id in 1..=3 {
            store_message(&db, id);
        }
        write_status(&db, 1, MessageState::Processed);
        write_status(&db, 2, MessageState::Retrying);
        let queues = InboundQueues::default();
        queues.push("adt", 0, 2);
        queues.push("adt", 0, 3);

        assert!(queues.requeue_if_final(&db, "adt", 0, 1, 2_000).unwrap());
        assert!(!queues.requeue_if_final(&db, "adt", 0, 1, 2_000).unwrap());
        assert!(!queues.requeue_if_final(&db, "adt", 0, 2, 2_000).unwrap());
        assert!(!queues.requeue_if_final(&db, "adt", 0, 3, 2_000).unwrap());
        assert_eq!(queues.first("adt", 0, 10, |_| false), [1, 2, 3]);
        let status = status::read(&db, 1).unwrap().unwrap();
        assert_eq!(status.state, MessageState::Requeued);
        assert_eq!(status.updated_at_ms, 2_000);
        assert_eq!(entries(&db), [1]);

        let rebuilt = InboundQueues::default();
        assert_eq!(rebuilt.rebuild(&db, &[]).unwrap(), 3);
        assert_eq!(rebuilt.first("adt", 0, 10, |_| false), [1, 2, 3]);
    }

    /// Ensures that opening a store from before the in-memory queues (queue
    /// entries for every queued message, no mark) keeps its entries: a
    /// queued message whose status is final (a reprocessed dead letter)
    /// stays queued, as requeued; a processed one does not come back.
    #[test]
    fn queue_entries_of_an_older_store_stay_queued() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        for id in 1..=3 {
            store_message(&db, id);
        }
        write_status(&db, 2, MessageState::DeadLettered);
        write_status(&db, 3, MessageState::Processed);
        for id in [1, 2] {
            db.insert(keys::queue_entry("adt", 0, id), &[][..]).unwrap();
        }

        let queues = InboundQueues::default();
        assert_eq!(queues.rebuild(&db, &[]).unwrap(), 2);
        assert_eq!(queues.first("adt", 0, 10, |_| false), [1, 2]);
        let requeued = status::read(&db, 2).unwrap().unwrap();
        assert_eq!(requeued.state, MessageState::Requeued);
        assert_eq!(entries(&db), [1, 2]);
    }

    /// Ensures that messages below the mark come back only from the log.
    #[test]
    fn below_the_mark_only_logged_messages_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        for id in [1, 2, 9] {
            store_message(&db, id);
        }
        db.insert(keys::QUEUE_LOW_WATER, &5_u64.to_be_bytes()[..])
            .unwrap();
        let queues = InboundQueues::default();
        assert_eq!(queues.rebuild(&db, &[2]).unwrap(), 2);
        assert_eq!(queues.first("adt", 0, 10, |_| false), [2, 9]);
    }
}
