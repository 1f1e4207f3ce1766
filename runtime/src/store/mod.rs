//! The durable message store: raw messages with their metadata, the inbound
//! queue of every channel partition, and the dedupe index, in sled.
//!
//! # Trees and key layout
//!
//! Everything lives in sled's default tree, so that one `Batch` writes a
//! message, its queue entry and its dedupe entry atomically:
//!
//! ```text
//! m/<id u64>                                         -> record (see record.rs)
//! q/<channel str>/<partition u32>/<id u64>           -> empty
//! d/<channel str><msh3 str><msh4 str><msh10 str>     -> id u64 | received_at_ms u64
//!
//! str = len u32 | UTF-8 bytes; integers big-endian, so keys sort numerically
//! (the "/" in the picture are for reading; only "m/", "q/", "d/" are stored).
//! ```
//!
//! Ids come from sled's `generate_id`: unique and increasing, also across
//! restarts and crashes (sled persists the counter ahead of use), but not
//! contiguous.
//!
//! # What is flushed before AA
//!
//! [`Store::ingest`] returns only after the batch holding the message record,
//! queue entry and dedupe entry has been fsynced by sled's `flush`. For a
//! duplicate it waits for a flush too, because the original may have been
//! written but not flushed yet. Concurrent ingests share one flush (group
//! commit, see `group_commit.rs`); a failed write or flush is
//! [`StoreError::Unavailable`] and the caller answers AE.
//!
//! # Invariants
//!
//! - A message record, its queue entry and its dedupe entry exist together
//!   or not at all.
//! - Within a channel, ids are generated and written under one lock, so a
//!   queue (keys ordered by id) is in arrival order and no id appears in a
//!   queue after a greater one was visible.
//! - Of two copies of one message (same channel, MSH-3, MSH-4, MSH-10) within
//!   the dedupe window, only the first is stored and queued; the second
//!   reports the first's id. A dedupe entry older than the window never
//!   counts, pruned or not.
//! - An `Ok` from `ingest` means durable: after a storage failure the handle
//!   is reopened (see `database.rs`) and writes not yet flushed on the old
//!   handle are reported failed, never acknowledged.

mod database;
mod dedupe;
mod error;
mod group_commit;
mod inbound;
mod keys;
mod record;
mod settings;

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use dedupe::DedupeKey;
pub use error::StoreError;
pub use record::{NewMessage, StoredMessage};
pub use settings::StoreSettings;

use database::Database;
use inbound::ChannelLocks;

/// What [`Store::ingest`] did with a message; both are acknowledged AA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Stored and queued under a new id.
    Stored {
        /// The new message's id.
        id: u64,
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
    flusher: Option<JoinHandle<()>>,
}

impl Store {
    /// Opens the store in `dir`, creating it if needed, and starts its
    /// flusher thread.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if sled cannot open the directory.
    pub fn open(dir: &Path, settings: StoreSettings) -> Result<Store, StoreError> {
        let dedupe_window = settings.dedupe_window();
        let database = Arc::new(Database::open(dir, settings)?);
        let flusher = spawn_flusher(Arc::clone(&database))?;
        let inner = Inner {
            database,
            locks: ChannelLocks::new(),
            dedupe_window,
            flusher: Some(flusher),
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    /// Stores and queues `message`, or recognises it as a resend, and returns
    /// once that is durable on disk.
    ///
    /// The write itself is a few in-memory sled calls made on the calling
    /// thread; only the wait for the flush yields. After a storage failure
    /// the first call also reopens the database, which blocks for as long as
    /// sled takes to replay its log.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed: nothing is durable and
    /// the caller answers AE. [`StoreError::Corrupt`] if its dedupe entry
    /// cannot be read.
    pub async fn ingest(&self, message: NewMessage<'_>) -> Result<Ingested, StoreError> {
        let (ingested, ticket) = self.write(&message)?;
        let durable = self.inner.database.commit.wait(ticket).await;
        durable.inspect_err(|error| log_not_stored(&message, error))?;
        Ok(ingested)
    }

    /// [`Store::ingest`] for synchronous callers: blocks the thread until the
    /// message is durable. Do not call it on an async runtime's thread.
    ///
    /// # Errors
    ///
    /// As [`Store::ingest`].
    pub fn ingest_blocking(&self, message: NewMessage<'_>) -> Result<Ingested, StoreError> {
        let (ingested, ticket) = self.write(&message)?;
        let durable = self.inner.database.commit.wait_blocking(ticket);
        durable.inspect_err(|error| log_not_stored(&message, error))?;
        Ok(ingested)
    }

    /// The message stored under `id`, if there is one.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// if the record cannot be decoded.
    pub fn message(&self, id: u64) -> Result<Option<StoredMessage>, StoreError> {
        let record = self
            .inner
            .database
            .with_db(|db| Ok(db.get(keys::message(id))?))?;
        record.map(|record| record::decode(id, &record)).transpose()
    }

    /// The ids waiting in one inbound queue, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed.
    pub fn queue(&self, channel: &str, partition: u32) -> Result<Vec<u64>, StoreError> {
        let prefix = keys::queue_prefix(channel, partition);
        self.inner.database.with_db(|db| {
            db.scan_prefix(&prefix)
                .keys()
                .map(|key| Ok(keys::trailing_id(&key?).expect("queue keys end in an id")))
                .collect()
        })
    }

    /// Every stored message, by id. The iterator keeps the current database
    /// handle open, which delays a reopen after a storage failure: drop it
    /// promptly.
    ///
    /// # Errors
    ///
    /// Each item is [`StoreError::Unavailable`] if storage failed and
    /// [`StoreError::Corrupt`] if its record cannot be decoded.
    pub fn messages(&self) -> impl Iterator<Item = Result<StoredMessage, StoreError>> + use<> {
        let scan = self
            .inner
            .database
            .with_db(|db| Ok(db.scan_prefix(keys::MESSAGE_PREFIX)));
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
        self.inner
            .database
            .with_db(|db| dedupe::prune(db, now_ms, window))
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
        database
            .with_db(|db| inbound::write(db, locks, &database.commit, message, *dedupe_window))
            .inspect_err(|error| log_not_stored(message, error))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.database.commit.shut_down();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

fn spawn_flusher(database: Arc<Database>) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name("store-flusher".into())
        .spawn(move || {
            while let Some(target) = database.commit.next_target() {
                database.flush(target);
            }
        })
        .map_err(|error| StoreError::unavailable(format!("cannot start the flusher: {error}")))
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
