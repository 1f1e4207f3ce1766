//! The durable message store: raw messages with their metadata, the inbound
//! queue of every channel partition, and the dedupe index, in sled, made
//! durable by the store's own write-ahead log. The inbound queues and the
//! dedupe index live in memory and are rebuilt from sled at open
//! (`queues.rs`, `dedupe_index.rs`).
//!
//! # Trees and key layout
//!
//! Everything lives in sled's default tree:
//!
//! ```text
//! m/<id u64>                                         -> record (see record.rs)
//! s/<id u64>                                         -> processing status (JSON)
//! q/<channel str><partition u32><id u64>             -> empty: queued for long (queues.rs)
//! k/<greatest id u64>                                -> chunk of dedupe entries (dedupe_index.rs)
//! d/<channel str><msh3 str><msh4 str><msh10 str>     -> id u64 | received_at_ms u64 | fingerprint u32
//!                                                       (one dedupe entry, as earlier versions wrote them)
//! n/ids                                              -> id ceiling u64 (ids.rs)
//! n/queued                                           -> queues' low-water mark u64 (queues.rs)
//! n/outbound                                         -> held entries' low-water mark u64 (held_outbound.rs)
//!
//! str = len u32 | UTF-8 bytes; integers big-endian, so keys sort numerically
//! (the "/" in the picture are for reading; only the two-byte prefixes are
//! stored). Destination queues (`o/`), dead letters (`x/`) and channel run
//! states (`c/`) and partitionings (`p/`) are described in `keys.rs`.
//! ```
//!
//! Ids come from the store's own counter (`ids.rs`): unique and increasing,
//! also across restarts and crashes, but not contiguous. (sled's
//! `generate_id` repeats ids after two crashes in a row.)
//!
//! # Write-ahead log and indexing
//!
//! ```text
//! <dir>/wal/00000001.wal …   segments, appended in number order, one
//!                            checksummed group of records per flush (wal.rs)
//! record  = len u32 LE | crc32 u32 LE | payload
//! payload = id u64 | dedupe key | message record   (redo.rs)
//! ```
//!
//! An ingest writes nothing to sled itself: it files the message's dedupe
//! entry in the in-memory dedupe index and appends one log record holding
//! the message record and that entry to the group commit's buffer. If no
//! flush is under way, the ingesting thread then flushes itself (it leads);
//! otherwise the flusher thread picks the record up in the next round.
//! Either appends and fsyncs the whole buffer as one group, hands it to the
//! indexer (`indexer.rs`) and then releases its senders, who answer AA. The indexer
//! thread makes the group's writes in sled as plain inserts (a sled batch
//! would write and sync sled's log buffer every time): one chunk with the
//! group's dedupe entries, then each message's record, after which it
//! queues the message in memory. Every second the checkpointer rotates to a new
//! segment, waits until the indexer has applied every older group, flushes
//! sled and retires the older segments, keeping one file for reuse
//! (`background.rs`, `wal.rs`); a clean shutdown ends with such a
//! checkpoint. Opening the store replays the segments: each record whose
//! writes sled lacks is redone, the inbound queues are rebuilt, sled is
//! flushed, and a fresh segment started. A torn group at the end of a segment (a crash mid-append) ends
//! its replay; the segment is then retired with the others, which discards
//! the torn tail.
//!
//! Until the indexer has applied a group, its messages are only in the log:
//! reads of messages and inbound queues first wait for the indexer to apply
//! the groups flushed so far, so an acknowledged message is always visible
//! (other reads and writes, such as deliveries, do not wait). Ingest's
//! dedupe check reads only the in-memory index, which has every entry from
//! the moment its message is written to the log's buffer.
//!
//! # What is fsynced before AA
//!
//! [`Store::ingest`] (and [`Store::finish_ingest`] after
//! [`Store::begin_ingest`]) returns only after the log record holding the
//! message record and dedupe entry has been written and fsynced
//! (`fdatasync`) in the current segment, whose directory entry was fsynced
//! when it was created. For a duplicate it waits for the same, because the
//! original's record may still be in the buffer. Concurrent ingests share
//! one append and fsync (group commit, see `group_commit.rs`), and so do
//! messages one source begins together (a file's, a pipelining sender's);
//! a failed append or fsync is [`StoreError::Unavailable`] and the caller
//! answers AE.
//!
//! # Invariants
//!
//! - sled holds only writes whose log record is durable, and for each
//!   message either its record with its dedupe entry's chunk, or less (then
//!   replay redoes both): sled recovers a prefix of its log, and the record
//!   is written last.
//! - A message is queued while sled holds its record and no final status
//!   (`MessageState::is_queued`). Its id is at or above the low-water mark
//!   sled holds, or its log record is still in a segment, or it has a queue
//!   entry in sled (see `queues.rs`).
//! - Every record in a deleted log segment was applied to sled and flushed
//!   there before the segment went.
//! - Records enter the buffer, and tickets are taken, in one order under one
//!   mutex; the flusher appends them in that order and the indexer applies
//!   them in that order.
//! - Within a channel, the dedupe check, id and log append happen under one
//!   lock, so a queue (ordered by id) is in arrival order, no id
//!   appears in a queue after a greater one was visible, and a duplicate's
//!   ticket comes after its original's record.
//! - Of two copies of one message (same channel, MSH-3, MSH-4, MSH-10) within
//!   the dedupe window, only the first is stored and queued; the second
//!   reports the first's id. The dedupe index holds every entry within the
//!   window from its write to the log's buffer on, and after a crash or
//!   reopen exactly those of durable records. A dedupe entry older than the
//!   window never counts, pruned or not.
//! - An outbound entry that delivers its message as received and has not
//!   failed may live in memory only (`held_outbound.rs`): its message's
//!   status, written after it is held, records where it waits, and its
//!   message is at or above the mark sled holds, so opening the store
//!   holds it again (and delivers it again if it was delivered since the
//!   last checkpoint).
//! - Replay is idempotent: it redoes only messages sled does not fully hold.
//!   Code that later deletes a message must do so only for
//!   messages no log segment holds any more (after a checkpoint), or replay
//!   would bring them back.
//! - An `Ok` from `ingest` or `finish_ingest` means durable: after a failed append, fsync or
//!   sled write, the log refuses appends and the handle is reopened (see
//!   `database.rs`), which replays the log into sled before anything is
//!   acknowledged again; writes not yet fsynced are reported failed, never
//!   acknowledged.

mod background;
mod channel_states;
mod database;
mod dead_letter;
mod dead_letters;
mod dedupe;
mod dedupe_index;
mod delivery_log;
mod disk_space;
mod error;
mod framed;
mod group_commit;
mod held_outbound;
mod ids;
mod inbound;
mod indexer;
mod keys;
mod outbound;
mod prune;
mod queues;
mod recent_records;
mod record;
mod redo;
mod repartition;
mod reprocess;
mod settings;
mod signal;
mod status;
mod wal;
mod work;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use dead_letter::{DeadLetter, DeadLetterFilter, DeadLetterHeader, DeadLetterReason, PIPELINE};
pub use dead_letters::Requeued;
pub use dedupe::DedupeKey;
pub use disk_space::DiskSpace;
pub use error::StoreError;
pub use outbound::{NewOutbound, OutboundEntry, OutboundHeader, Payload};
pub use prune::{Pruned, Retention};
pub use record::{NewMessage, StoredMessage};
pub use repartition::Repartitioned;
pub use settings::StoreSettings;
pub use status::{FailureLocation, MessageState, MessageStatus, StageRecord};
pub use work::Processed;

/// A message written by [`Store::begin_ingest`], not yet known to be
/// durable.
#[derive(Debug)]
#[must_use = "a begun message is acknowledged only after Store::finish_ingest"]
pub struct PendingIngest {
    ingested: Ingested,
    ticket: group_commit::Ticket,
}

use background::Background;
use database::Database;
use inbound::ChannelLocks;

/// What [`Store::ingest`] did with a message; all are acknowledged AA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Stored and queued under a new id.
    Stored {
        /// The new message's id.
        id: u64,
    },
    /// Stored and queued under a new id although a message with the same
    /// dedupe key was stored within the window: its content differs, so
    /// it is not a resend but a reused control id (see `dedupe.rs`).
    Reused {
        /// The new message's id.
        id: u64,
        /// The id of the earlier message under the same key.
        earlier_id: u64,
    },
    /// A resend of a message stored within the dedupe window; not stored or
    /// queued again.
    Duplicate {
        /// The id of the message stored first.
        original_id: u64,
    },
}

/// The message store; cheap to clone, all clones share one database.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    database: Arc<Database>,
    locks: ChannelLocks,
    dedupe_window: Duration,
    background: Option<Background>,
}

impl Store {
    /// Opens the store in `dir`, creating it if needed, replays its
    /// write-ahead log and starts its flusher and checkpointer threads.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if sled cannot open the directory or the
    /// log cannot be read or replayed, [`StoreError::Corrupt`] if a log
    /// record with a valid checksum does not decode.
    pub fn open(dir: &Path, settings: StoreSettings) -> Result<Store, StoreError> {
        let dedupe_window = settings.dedupe_window();
        let database = Arc::new(Database::open(dir, settings)?);
        let background = Background::spawn(&database)?;
        let inner = Inner {
            database,
            locks: ChannelLocks::new(),
            dedupe_window,
            background: Some(background),
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// Stores and queues `message`, or recognises it as a resend, and returns
    /// once that is durable on disk: [`Store::begin_ingest`] and then
    /// [`Store::finish_ingest`].
    ///
    /// # Errors
    ///
    /// As those two.
    pub async fn ingest(&self, message: NewMessage<'_>) -> Result<Ingested, StoreError> {
        let begun = self
            .begin_ingest(&message)
            .inspect_err(|error| log_not_stored(&message, error))?;
        let durable = self.finish_ingest(&begun).await;
        durable.inspect_err(|error| log_not_stored(&message, error))
    }

    /// Writes `message` to the log's buffer, or recognises it as a resend,
    /// without waiting for the disk. The write is in memory, on the calling
    /// thread (but for a sled write now and then to raise the id ceiling,
    /// see `ids.rs`). After a storage failure
    /// the first call also reopens the database, which blocks for as long
    /// as sled and the store take to replay their logs.
    ///
    /// A source with several messages at hand (a file, pipelined frames)
    /// begins them all, in order, and then finishes each in the same order:
    /// they share one fsync, and their queue order is the order they were
    /// begun in. Nothing may be acknowledged before its finish returns.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage has failed.
    pub fn begin_ingest(&self, message: &NewMessage<'_>) -> Result<PendingIngest, StoreError> {
        let (ingested, ticket) = self.write(message)?;
        Ok(PendingIngest { ingested, ticket })
    }

    /// Returns once a begun message is durable on disk.
    ///
    /// If no flush is under way and the runtime has another worker for the
    /// other tasks meanwhile, the calling thread appends and fsyncs the log
    /// itself, blocking for that one fsync; otherwise it yields until the
    /// flusher thread's fsync. A message begun after others shares their
    /// flush, so finishing it after them usually finds it durable already.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed: the message is not
    /// durable and the caller answers AE.
    pub async fn finish_ingest(&self, begun: &PendingIngest) -> Result<Ingested, StoreError> {
        let database = &self.inner.database;
        if !database.commit.is_resolved(begun.ticket) {
            database.flush_or_wake(may_block_worker());
        }
        database.commit.wait(begun.ticket).await?;
        Ok(begun.ingested)
    }

    /// Has the indexer apply the messages made durable so far at once
    /// instead of at the end of its linger (see `indexer.rs`): for a sender
    /// that waits for its message's pipeline (`after_transform` and
    /// `after_delivery` ACKs).
    pub fn expedite(&self) {
        self.inner.database.indexer.hurry();
    }

    /// [`Store::ingest`] for synchronous callers: blocks the thread until the
    /// message is durable. Do not call it on an async runtime's thread.
    ///
    /// # Errors
    ///
    /// As [`Store::ingest`].
    pub fn ingest_blocking(&self, message: NewMessage<'_>) -> Result<Ingested, StoreError> {
        let (ingested, ticket) = self
            .write(&message)
            .inspect_err(|error| log_not_stored(&message, error))?;
        let database = &self.inner.database;
        database.flush_or_wake(true);
        let durable = database.commit.wait_blocking(ticket);
        durable.inspect_err(|error| log_not_stored(&message, error))?;
        Ok(ingested)
    }

    /// The message stored under `id`, if there is one. While it waits in
    /// an inbound queue, its partition is the one it waits in (a change of
    /// partitions may have moved it from the one it was stored in).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// if the record cannot be decoded.
    pub fn message(&self, id: u64) -> Result<Option<StoredMessage>, StoreError> {
        let database = &self.inner.database;
        let record = database.with_indexed_db(|db| database.recent.read(db, id))?;
        let Some(mut message) = record.map(|r| record::decode(id, &r)).transpose()? else {
            return Ok(None);
        };
        if let Some(partition) = database.queues.partition_of(&message.channel, id) {
            message.partition = partition;
        }
        Ok(Some(message))
    }

    /// The ids waiting in one inbound queue, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed.
    pub fn queue(&self, channel: &str, partition: u32) -> Result<Vec<u64>, StoreError> {
        let database = &self.inner.database;
        database.with_indexed_db(|_| {
            Ok(database
                .queues
                .first(channel, partition, usize::MAX, |_| false))
        })
    }

    /// Every stored message, by id: oldest first, newest first with
    /// `.rev()`. The iterator keeps the current database handle open, which
    /// delays a reopen after a storage failure: drop it promptly.
    ///
    /// # Errors
    ///
    /// Each item is [`StoreError::Unavailable`] if storage failed and
    /// [`StoreError::Corrupt`] if its record cannot be decoded.
    pub fn messages(
        &self,
    ) -> impl DoubleEndedIterator<Item = Result<StoredMessage, StoreError>> + use<> {
        self.messages_below(u64::MAX)
    }

    /// [`Store::messages`] with ids below `id` only.
    pub fn messages_below(
        &self,
        id: u64,
    ) -> impl DoubleEndedIterator<Item = Result<StoredMessage, StoreError>> + use<> {
        let scan = self
            .inner
            .database
            .with_indexed_db(|db| Ok(db.range(keys::message(0)..keys::message(id))));
        let database = Arc::clone(&self.inner.database);
        scan.into_iter().flatten().map(move |item| {
            let (key, record) = item
                .map_err(StoreError::from)
                .inspect_err(|error| database.note_failure(error))?;
            record::decode(
                keys::trailing_id(&key).expect("message keys end in an id"),
                &record,
            )
        })
    }

    /// How many dedupe entries the store holds in memory: those of the
    /// messages received within its dedupe window, and some expired ones
    /// until pruning removes them.
    pub fn dedupe_entries(&self) -> usize {
        self.inner.database.dedupe.len()
    }

    /// The size of the store's file system and the room left in it.
    ///
    /// # Errors
    ///
    /// When the file system cannot be asked.
    pub fn disk_space(&self) -> std::io::Result<DiskSpace> {
        DiskSpace::of(self.inner.database.dir())
    }

    /// Removes the dedupe entries older than the window at `now_ms`
    /// (milliseconds since the Unix epoch) and returns how many it removed.
    /// Expired entries are already ignored; pruning only frees their space.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// for an undecodable entry.
    pub fn prune_dedupe(&self, now_ms: u64) -> Result<usize, StoreError> {
        let window = self.inner.dedupe_window;
        let database = &self.inner.database;
        database.with_db(|db| {
            let chunked = dedupe_index::prune(db, &database.dedupe, now_ms, window)?;
            let per_key = dedupe::prune_per_key(db, now_ms, window, &database.dedupe)?;
            Ok(chunked + per_key)
        })
    }

    fn write(
        &self,
        message: &NewMessage<'_>,
    ) -> Result<(Ingested, group_commit::Ticket), StoreError> {
        let Inner {
            database,
            locks,
            dedupe_window,
            ..
        } = &*self.inner;
        // A channel's own window is at most the store's, which decides how
        // long dedupe entries are kept.
        let window = message
            .dedupe_window
            .map_or(*dedupe_window, |own| own.min(*dedupe_window));
        database.with_db(|db| inbound::write(db, database, locks, message, window))
    }
}

/// Whether the calling thread may block for a log flush: a thread outside
/// any runtime or on a blocking pool, or a worker of a multi-threaded tokio
/// runtime with another worker to run the other tasks meanwhile. At most
/// one thread flushes at a time, so at most one worker is ever blocked.
fn may_block_worker() -> bool {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Err(_) => true,
        Ok(handle) => {
            handle.runtime_flavor() == RuntimeFlavor::MultiThread
                && handle.metrics().num_workers() > 1
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(background) = self.background.take() {
            background.stop(&self.database);
        }
    }
}

/// Logs a message that was not stored, by channel and control id only.
fn log_not_stored(message: &NewMessage<'_>, error: &StoreError) {
    tracing::error!(
        channel = message.channel,
        control_id = message.control_id.unwrap_or_default(),
        %error,
        "Message not stored."
    );
}
