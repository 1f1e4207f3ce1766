//! The write half of ingest: dedupe check, then one atomic batch with the
//! message record, its inbound queue entry and its dedupe entry.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use super::dedupe::DedupeEntry;
use super::error::StoreError;
use super::group_commit::{GroupCommit, Ticket};
use super::record::{self, NewMessage};
use super::{Ingested, keys};

/// How many locks the channels share.
const STRIPES: usize = 64;

/// Serialises the check-and-write of messages per channel, so that two copies
/// of one message cannot both pass the dedupe check and ids enter a queue in
/// the order they were generated.
///
/// A std `Mutex` because it is held only around in-memory sled calls, never
/// across the flush wait or an `.await`. Channels hash onto a fixed set of
/// stripes: two channels may share one, which costs a little parallelism and
/// nothing else.
#[derive(Debug)]
pub(crate) struct ChannelLocks {
    stripes: [Mutex<()>; STRIPES],
}

impl ChannelLocks {
    /// One unlocked lock per stripe.
    pub(crate) fn new() -> Self {
        ChannelLocks {
            stripes: std::array::from_fn(|_| Mutex::new(())),
        }
    }

    fn stripe(&self, channel: &str) -> &Mutex<()> {
        let mut hasher = DefaultHasher::new();
        channel.hash(&mut hasher);
        &self.stripes[hasher.finish() as usize % STRIPES]
    }
}

/// Writes `message` unless it is a resend within `window`, and takes the
/// flush ticket the caller must wait on before acknowledging (also for a
/// duplicate: its original may not be durable yet).
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] for an undecodable dedupe
/// entry.
pub(crate) fn write(
    db: &sled::Db,
    locks: &ChannelLocks,
    commit: &GroupCommit,
    message: &NewMessage<'_>,
    window: Duration,
) -> Result<(Ingested, Ticket), StoreError> {
    let ingested = {
        let _channel = locks
            .stripe(message.channel)
            .lock()
            .expect("lock not poisoned");
        check_and_write(db, message, window)?
    };
    Ok((ingested, commit.request()))
}

fn check_and_write(
    db: &sled::Db,
    message: &NewMessage<'_>,
    window: Duration,
) -> Result<Ingested, StoreError> {
    let dedupe_key = message
        .dedupe_key
        .map(|key| keys::dedupe(message.channel, &key));
    if let Some(key) = &dedupe_key
        && let Some(value) = db.get(key)?
    {
        let entry = DedupeEntry::decode(key, &value)?;
        if entry.covers(message.received_at_ms, window) {
            return Ok(Ingested::Duplicate {
                original_id: entry.id,
            });
        }
    }
    let id = db.generate_id()?;
    let mut batch = sled::Batch::default();
    batch.insert(keys::message(id), record::encode(message));
    batch.insert(
        keys::queue_entry(message.channel, message.partition, id),
        &[][..],
    );
    if let Some(key) = dedupe_key {
        let entry = DedupeEntry {
            id,
            received_at_ms: message.received_at_ms,
        };
        batch.insert(key, &entry.encode()[..]);
    }
    db.apply_batch(batch)?;
    Ok(Ingested::Stored { id })
}
