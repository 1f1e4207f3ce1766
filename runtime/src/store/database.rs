//! The sled database behind the store, its write-ahead log, the indexing of
//! durable log records into sled, and their recovery at open and after a
//! storage failure.
//!
//! Recovery redoes in sled every log record whose message sled does not
//! hold, rebuilds the inbound queues and the dedupe index, flushes sled,
//! then starts a new log segment and deletes the old ones.
//!
//! After an IO error (disk full, failed fsync) sled 0.34 poisons itself: it
//! keeps the error and returns it from every later write and flush, so the
//! handle never works again; a failed log append likewise fails every later
//! one (see `wal.rs`). The store therefore marks the handle broken on any
//! such error, and the next operation drops it, opens the directory again
//! (sled recovers from its own log up to the last intact write) and runs
//! recovery, at most once per [`REOPEN_INTERVAL`] while storage keeps
//! failing. Replacing the handle fails every ticket taken on it (see
//! `group_commit`) and discards the groups waiting for the indexer, which
//! recovery has just applied; each group carries the generation of the
//! handle it was written under, and a group of an older one is skipped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use super::dedupe_index::{Chunk, DedupeIndex};
use super::error::StoreError;
use super::group_commit::GroupCommit;
use super::held_outbound::HeldOutbound;
use super::ids::Ids;
use super::indexer::{Group, Indexer};
use super::queues::InboundQueues;
use super::recent_records::RecentRecords;
use super::redo::{apply_group, redo};
use super::settings::StoreSettings;
use super::wal::Wal;

/// The least time between two attempts to reopen a failed database, so
/// senders retrying against a full disk do not make it replay its log in a
/// loop.
pub(crate) const REOPEN_INTERVAL: Duration = Duration::from_millis(500);

/// How long opening waits for the file lock of a handle that was just
/// dropped: sled's background threads may hold it for a moment longer.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Why an operation is refused while no handle is open.
const NOT_BACK: &str = "storage failed and is not back yet";

/// The sled handle, replaced when storage fails.
#[derive(Debug)]
pub(crate) struct Database {
    dir: PathBuf,
    settings: StoreSettings,
    // Operations hold the read lock while they use the handle, a reopen holds
    // the write lock: no write can land on a handle that is being replaced
    // after its tickets were failed.
    handle: RwLock<Handle>,
    // Bumped by every reopen, under both the handle and the log lock.
    generation: AtomicU64,
    broken: AtomicBool,
    // Set by writes that bypass the log (pipeline and delivery progress,
    // admin actions); the next checkpoint flushes sled for them.
    dirty: AtomicBool,
    // The flusher holds it from taking records to fsyncing them, a reopen
    // while it fails tickets and replays: records taken before a reopen are
    // never appended after it.
    wal: Mutex<Wal>,
    /// The flush tickets of writes to this database.
    pub(crate) commit: GroupCommit,
    /// Durable log records on their way into sled.
    pub(crate) indexer: Indexer,
    /// Message ids and sequence numbers, set again by every recovery.
    pub(crate) ids: Ids,
    /// The inbound queues, rebuilt by every recovery.
    pub(crate) queues: InboundQueues,
    /// The dedupe entries within the window, loaded again by every
    /// recovery.
    pub(crate) dedupe: DedupeIndex,
    /// The outbound entries kept in memory only, rebuilt by every
    /// recovery.
    pub(crate) held: HeldOutbound,
    /// The records indexed last, emptied by every recovery.
    pub(crate) recent: RecentRecords,
}

#[derive(Debug)]
struct Handle {
    db: Option<sled::Db>,
    last_reopen: Option<Instant>,
}

impl Database {
    /// Opens (or creates) the database in `dir`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if sled cannot open it.
    pub(crate) fn open(dir: &Path, settings: StoreSettings) -> Result<Self, StoreError> {
        let db = open_sled(dir, &settings)?;
        let mut wal = Wal::open(dir)?;
        let ids = Ids::default();
        let queues = InboundQueues::default();
        let dedupe = DedupeIndex::default();
        let held = HeldOutbound::new(dir);
        recover(&db, &mut wal, &ids, &queues, &dedupe, &held)?;
        Ok(Database {
            dir: dir.to_owned(),
            settings,
            handle: RwLock::new(Handle {
                db: Some(db),
                last_reopen: None,
            }),
            generation: AtomicU64::new(0),
            broken: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            wal: Mutex::new(wal),
            commit: GroupCommit::new(),
            indexer: Indexer::default(),
            ids,
            queues,
            dedupe,
            held,
            recent: RecentRecords::default(),
        })
    }

    /// [`Database::with_db`] once every acknowledged message is indexed:
    /// for reads of ingested messages and queues, which must see every
    /// message that was acknowledged.
    ///
    /// # Errors
    ///
    /// As [`Database::with_db`].
    pub(crate) fn with_indexed_db<T>(
        &self,
        operation: impl FnOnce(&sled::Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // Before the handle's lock: a reopen waiting for it would otherwise
        // keep the indexer from taking it.
        self.indexer.catch_up();
        self.with_db(operation)
    }

    /// Runs `operation` on the database, reopening it first if it failed
    /// before. A storage error from `operation` marks the handle broken and
    /// is logged. It does not wait for the indexer: what it reads of
    /// messages acknowledged a moment ago may not be in sled yet.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the database is broken and cannot be
    /// reopened yet, and whatever `operation` returns.
    pub(crate) fn with_db<T>(
        &self,
        operation: impl FnOnce(&sled::Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.broken.load(Ordering::Acquire) {
            self.reopen()?;
        }
        let handle = self.handle.read().expect("lock not poisoned");
        let db = handle
            .db
            .as_ref()
            .ok_or_else(|| StoreError::unavailable(NOT_BACK))?;
        operation(db).inspect_err(|error| self.note_failure(error))
    }

    /// The store's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Marks the handle broken after a storage error.
    pub(crate) fn note_failure(&self, error: &StoreError) {
        if let StoreError::Unavailable { reason } = error
            && !self.broken.swap(true, Ordering::AcqRel)
        {
            tracing::error!(%reason, "Message store failed; answering AE until storage is back.");
        }
    }

    /// Appends and fsyncs the pending log records, hands them to the
    /// indexer and resolves the tickets they cover.
    pub(crate) fn flush_log(&self) {
        self.indexer.wait_for_room();
        self.flush_locked(self.wal());
    }

    /// Makes the tickets taken so far durable: on the caller's thread when
    /// `may_block` and no flush is under way (the writer leads), else by
    /// waking the flusher thread. Leading saves a lone sender two thread
    /// hand-offs per message; a flush under way picks the records up in
    /// its next round.
    pub(crate) fn flush_or_wake(&self, may_block: bool) {
        let led = may_block
            && self.indexer.has_room()
            && self
                .wal
                .try_lock()
                .map(|wal| self.flush_locked(wal))
                .is_ok();
        if !led {
            self.commit.wake_flusher();
        }
    }

    fn flush_locked(&self, mut wal: MutexGuard<'_, Wal>) {
        let (target, records) = self.commit.take();
        let outcome = wal.append(&records);
        match &outcome {
            // Submitted under the log's lock, so that a checkpoint that
            // rotated the log knows every older record's group.
            Ok(()) => {
                let generation = self.generation.load(Ordering::Acquire);
                self.indexer.submit(generation, records);
            }
            Err(reason) => self.note_failure(&StoreError::unavailable(reason.clone())),
        }
        drop(wal);
        self.commit.complete(target, outcome);
    }

    /// Applies one group of durable log records to sled and queues its
    /// messages, unless the handle it was written under was replaced
    /// (recovery applied it then). A failure marks the handle broken; the
    /// reopen replays the group.
    pub(crate) fn apply_group(&self, group: &Group) {
        let handle = self.handle.read().expect("lock not poisoned");
        if let Some(db) = &handle.db
            && group.generation == self.generation.load(Ordering::Acquire)
            && !self.broken.load(Ordering::Acquire)
            && let Err(error) = apply_group(db, &group.records, &self.queues, &self.recent)
        {
            self.note_failure(&error);
        }
        drop(handle);
        self.indexer.finished(group);
    }

    /// Notes a sled write that the log does not hold, for the next
    /// checkpoint to flush.
    pub(crate) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Flushes sled and deletes the log segments whose records that made
    /// durable; when no record was appended since the last time, flushes
    /// sled only if a write bypassed the log.
    pub(crate) fn checkpoint(&self) {
        let dirty = self.dirty.swap(false, Ordering::AcqRel);
        let mut wal = self.wal();
        let rotated = wal.rotate();
        let last_group = self.indexer.last_submitted();
        drop(wal);
        let segment = match rotated {
            Ok(Some(segment)) => segment,
            Ok(None) => {
                if dirty && self.flush().is_err() {
                    self.mark_dirty();
                }
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "Write-ahead log not rotated; checkpoint skipped.");
                return;
            }
        };
        // Every record in the older segments is in a group up to
        // `last_group`; once those are applied, this flush covers them all.
        // A failure is noted by `with_db`, and the next reopen replays the
        // segments.
        self.indexer.wait_applied(last_group);
        if self.flush().is_ok()
            && let Err(error) = self.wal().delete_before(segment)
        {
            tracing::warn!(%error, "Old write-ahead log segments not deleted.");
        }
    }

    /// Flushes sled, with the inbound queues' and the held outbound
    /// entries' low-water marks and the next id ceiling when it is due (see
    /// `queues.rs`, `held_outbound.rs` and `ids.rs`). Call it only once
    /// every log record it is to make durable is indexed.
    fn flush(&self) -> Result<(), StoreError> {
        self.with_db(|db| {
            let inbound_mark = self.queues.record_low_water(db, self.ids.peek())?;
            self.held.checkpoint(db, inbound_mark)?;
            let reserved = self.ids.reserve_ahead(db)?;
            db.flush()?;
            if let Some(ceiling) = reserved {
                self.ids.publish(ceiling);
            }
            Ok(())
        })
    }

    fn reopen(&self) -> Result<(), StoreError> {
        let mut handle = self.handle.write().expect("lock not poisoned");
        if !self.broken.load(Ordering::Acquire) {
            return Ok(());
        }
        if handle
            .last_reopen
            .is_some_and(|at| at.elapsed() < REOPEN_INTERVAL)
        {
            return Err(StoreError::unavailable("storage failed; retrying shortly"));
        }
        handle.last_reopen = Some(Instant::now());
        let mut wal = self.wal();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.commit
            .fail_all_requested("the database was reopened after a storage failure");
        drop(handle.db.take());
        let reopened = open_sled(&self.dir, &self.settings).and_then(|db| {
            let (ids, queues, dedupe) = (&self.ids, &self.queues, &self.dedupe);
            recover(&db, &mut wal, ids, queues, dedupe, &self.held).map(|()| db)
        });
        match reopened {
            Ok(db) => {
                handle.db = Some(db);
                self.indexer.discard();
                self.recent.clear();
                self.broken.store(false, Ordering::Release);
                tracing::info!("Message store reopened after a storage failure.");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "Message store could not be reopened yet.");
                Err(error)
            }
        }
    }

    fn wal(&self) -> MutexGuard<'_, Wal> {
        self.wal.lock().expect("lock not poisoned")
    }
}

/// Redoes the log in `db`, sets `ids` past every id it holds, rebuilds
/// `queues`, `dedupe` and `held` from it, makes all that durable there, and
/// starts a new segment.
fn recover(
    db: &sled::Db,
    wal: &mut Wal,
    ids: &Ids,
    queues: &InboundQueues,
    dedupe: &DedupeIndex,
    held: &HeldOutbound,
) -> Result<(), StoreError> {
    dedupe.load(db)?;
    let mut logged = Vec::new();
    let mut redone = 0;
    let mut replayed_entries = Chunk::default();
    let records = wal.replay(|payload| {
        let (writes, redid) = redo(db, payload)?;
        if let Some((key, entry)) = writes.dedupe() {
            dedupe.insert(key, entry);
            replayed_entries.push(key, entry);
        }
        logged.push(writes.id);
        redone += usize::from(redid);
        Ok(())
    })?;
    replayed_entries.store(db)?;
    ids.recover(db)?;
    let queued = queues.rebuild(db, &logged)?;
    let held_again = held.rebuild(db)?;
    let inbound_mark = queues.record_low_water(db, ids.peek())?;
    held.checkpoint(db, inbound_mark)?;
    db.flush()?;
    wal.restart()?;
    if records > 0 {
        tracing::info!(records, redone, "Write-ahead log replayed.");
    }
    if queued > 0 {
        tracing::info!(queued, "Inbound queues rebuilt.");
    }
    if held_again > 0 {
        tracing::info!(
            held = held_again,
            "Outbound entries held in memory rebuilt."
        );
    }
    Ok(())
}

/// Opens sled in `dir`, waiting up to [`LOCK_WAIT`] for the file lock of a
/// handle that was just dropped.
fn open_sled(dir: &Path, settings: &StoreSettings) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(settings.cache_capacity_bytes)
        // The group-commit flusher makes every acknowledged write durable;
        // sled's own periodic flush would only add fsyncs.
        .flush_every_ms(None);
    let started = Instant::now();
    loop {
        match config.open() {
            Err(error) if is_lock_conflict(&error) && started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            opened => {
                return opened.map_err(|error| {
                    StoreError::unavailable(format!("cannot open {}: {error}", dir.display()))
                });
            }
        }
    }
}

fn is_lock_conflict(error: &sled::Error) -> bool {
    // sled reports a held lock only as an `Io` error with this text.
    matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that a writer flushes its own record when the log is free,
    /// leaves it to the flusher while a flush holds the log or when it may
    /// not block, and that a later flush covers what it left.
    #[test]
    fn a_writer_flushes_itself_only_when_the_log_is_free_and_it_may_block() {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::open(dir.path(), StoreSettings::default()).unwrap();
        let commit = &database.commit;

        let led = commit.request(|pending| pending.extend_from_slice(b"first"));
        database.flush_or_wake(true);
        assert!(commit.is_resolved(led), "the writer flushed its record");

        let flush_under_way = database.wal();
        let waiting = commit.request(|pending| pending.extend_from_slice(b"second"));
        database.flush_or_wake(true);
        assert!(
            !commit.is_resolved(waiting),
            "a locked log is left to the flusher"
        );
        drop(flush_under_way);
        let not_blocking = commit.request(|pending| pending.extend_from_slice(b"third"));
        database.flush_or_wake(false);
        assert!(!commit.is_resolved(not_blocking));

        database.flush_log();
        assert!(commit.is_resolved(waiting) && commit.is_resolved(not_blocking));
        assert!(commit.wait_blocking(not_blocking).is_ok());
    }
}
