//! The write half of ingest: dedupe check against the dedupe index and the
//! new entry filed there, then the write-ahead log record holding the
//! message record and its dedupe entry, which the indexer applies to sled
//! (and queues the message) once the record is durable.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use super::database::Database;
use super::dedupe::{self, Match};
use super::error::StoreError;
use super::group_commit::Ticket;
use super::record::{self, NewMessage};
use super::redo::MessageWrites;
use super::{Ingested, keys};

/// How many locks the channels share.
const STRIPES: usize = 64;

/// Serialises the check-and-write of messages per channel, so that two copies
/// of one message cannot both pass the dedupe check, ids enter a queue in
/// the order they were generated, and a duplicate's ticket is taken after
/// its original's log record was appended.
///
/// A std `Mutex` because it is held only around in-memory work, never
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

    pub(crate) fn stripe(&self, channel: &str) -> &Mutex<()> {
        let mut hasher = DefaultHasher::new();
        channel.hash(&mut hasher);
        &self.stripes[hasher.finish() as usize % STRIPES]
    }
}

/// Writes `message` unless it is a resend within `window`, and takes the
/// ticket the caller must wait on before acknowledging (also for a
/// duplicate: its original may not be durable yet).
///
/// # Errors
///
/// Any sled error from taking an id.
pub(crate) fn write(
    db: &sled::Db,
    database: &Database,
    locks: &ChannelLocks,
    message: &NewMessage<'_>,
    window: Duration,
) -> Result<(Ingested, Ticket), StoreError> {
    // Encoded before the lock is taken, which all writers to the channel
    // wait for.
    let dedupe_key = message
        .dedupe_key
        .map(|key| keys::dedupe(message.channel, &key));
    let fingerprint = dedupe_key
        .as_ref()
        .map_or(0, |_| dedupe::fingerprint(message.raw));
    let record = record::encode(message);
    let _channel = locks
        .stripe(message.channel)
        .lock()
        .expect("lock not poisoned");
    let (commit, dedupe) = (&database.commit, &database.dedupe);
    let key = dedupe_key.as_deref();
    let judged = key.and_then(|key| dedupe.get(key)).map(|entry| {
        let judgement = entry.judge(fingerprint, message.received_at_ms, window);
        (entry.id, judgement)
    });
    if let Some((original_id, Match::Resend)) = judged {
        return Ok((Ingested::Duplicate { original_id }, commit.request(|_| {})));
    }
    let writes = MessageWrites {
        id: database.ids.next(db)?,
        channel: message.channel,
        partition: message.partition,
        received_at_ms: message.received_at_ms,
        dedupe_key: key,
        record: &record,
        fingerprint,
    };
    // Filed before the record is appended: a resend finds it from then on.
    if let Some((key, entry)) = writes.dedupe() {
        dedupe.insert(key, entry);
    }
    let ticket = commit.request(|pending| writes.frame_into(pending));
    let id = writes.id;
    let ingested = match judged {
        Some((earlier_id, Match::Reuse)) => Ingested::Reused { id, earlier_id },
        _ => Ingested::Stored { id },
    };
    Ok((ingested, ticket))
}
