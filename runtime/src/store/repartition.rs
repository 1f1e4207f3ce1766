//! Moving a channel's queued work when its partitioning changes.
//!
//! Work waits in queues by partition: inbound messages in memory (with
//! queue entries for some, see `queues.rs`), outbound entries under
//! `o/<channel><destination><partition><sequence>` (those held in memory,
//! see `held_outbound.rs`, are written there before a move). A worker serves each
//! partition the channel's configuration names, so after `partitions` or
//! `partition_by` changes, work left in a partition that no longer exists
//! would wait for ever, and a patient's work left in its old partition
//! could overtake or be overtaken by its new messages in the new one.
//!
//! So the engine tells the store, before any worker starts, how the channel
//! partitions now (`p/<channel>` keeps what it said last time), and when
//! that changed the store moves every queued message and outbound entry of
//! the channel to the partition the new partitioning gives its message.
//! Queues are in id order and an entry keeps its sequence, so each
//! patient's work keeps its order. Moves are atomic writes of up to 1,024
//! messages or entries; a crash part way leaves the recorded partitioning
//! as it was, so the next start moves the rest.

use super::error::StoreError;
use super::queues::MOVES_PER_WRITE;
use super::{Store, keys, status};

/// What a change of partitioning moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repartitioned {
    /// Inbound messages moved to another partition.
    pub inbound: usize,
    /// Outbound entries moved to another partition.
    pub outbound: usize,
}

impl Store {
    /// Records that `channel` now partitions as `partitioning` says (any
    /// text that changes when its partitioning does), and when that
    /// differs from what was recorded, moves its queued work: each inbound
    /// message, and each entry of the destination queues `destinations`,
    /// to the partition `partition_of` gives the message as received; an
    /// entry whose message is no longer stored to its partition modulo
    /// `partitions`. Call it before the channel's workers start. Returns
    /// what moved (`None` when the partitioning did not change).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// if an entry cannot be decoded; the recorded partitioning is then
    /// unchanged, so the next start finishes the moves.
    pub fn repartition(
        &self,
        channel: &str,
        partitioning: &str,
        destinations: &[&str],
        partitions: u32,
        partition_of: impl Fn(&[u8]) -> u32,
    ) -> Result<Option<Repartitioned>, StoreError> {
        let database = &self.inner.database;
        let key = keys::partitioning(channel);
        let recorded = database.with_indexed_db(|db| Ok(db.get(&key)?))?;
        if recorded.as_deref() == Some(partitioning.as_bytes()) {
            return Ok(None);
        }
        let place = |db: &sled::Db, id: u64, partition: u32| -> Result<u32, StoreError> {
            if partitions <= 1 {
                // One partition: everything goes there, unread.
                return Ok(0);
            }
            Ok(match db.get(keys::message(id))? {
                Some(record) => partition_of(&super::record::decode(id, &record)?.raw),
                None => partition % partitions.max(1),
            })
        };
        let mut moved = Repartitioned::default();
        database.with_indexed_db(|db| {
            moved.inbound = database
                .queues
                .repartition(db, channel, |id, partition| place(db, id, partition))?;
            // The entries held in memory go to sled to be moved with the
            // rest, and their statuses stop naming them: opening the store
            // would otherwise hold them again where they were.
            let spilled = database
                .held
                .spill_all(db, &keys::channel_outbound_prefix(channel))?;
            for id in spilled {
                status::forget_held(db, id)?;
            }
            for destination in destinations {
                moved.outbound += move_outbound(db, channel, destination, |id, partition| {
                    place(db, id, partition)
                })?;
            }
            db.insert(&key, partitioning.as_bytes())?;
            Ok(())
        })?;
        self.flush_now()?;
        Ok(Some(moved))
    }
}

/// Moves each entry of `channel`'s queues for `destination` to the
/// partition `place` gives its message (from the message's id and the
/// entry's partition), keeping its sequence; returns how many moved.
fn move_outbound(
    db: &sled::Db,
    channel: &str,
    destination: &str,
    mut place: impl FnMut(u64, u32) -> Result<u32, StoreError>,
) -> Result<usize, StoreError> {
    let mut moved = 0;
    let mut batch = sled::Batch::default();
    let mut in_batch = 0;
    // Written as the scan goes, so that memory holds one batch's bodies;
    // an entry met again in its new partition stays there.
    for item in db.scan_prefix(keys::destination_prefix(channel, destination)) {
        let (key, value) = item?;
        let (partition, sequence) = keys::queue_partition(&key)
            .zip(keys::trailing_id(&key))
            .expect("outbound keys end in a partition and a sequence");
        let header: super::OutboundHeader = super::framed::decode_header(&key, &value)?;
        let target = place(header.message_id, partition)?;
        if target != partition {
            batch.remove(key);
            batch.insert(
                keys::outbound_entry(channel, destination, target, sequence),
                value,
            );
            in_batch += 1;
            moved += 1;
        }
        if in_batch == MOVES_PER_WRITE {
            db.apply_batch(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
    }
    db.apply_batch(batch)?;
    Ok(moved)
}
