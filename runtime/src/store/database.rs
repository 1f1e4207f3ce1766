//! The sled database behind the store, and its recovery after a storage
//! failure.
//!
//! After an IO error (disk full, failed fsync) sled 0.34 poisons itself: it
//! keeps the error and returns it from every later write and flush, so the
//! handle never works again. The store therefore marks the handle broken on
//! any sled error, and the next operation drops it and opens the directory
//! again (sled recovers from its log up to the last intact write), at most
//! once per [`REOPEN_INTERVAL`] while storage keeps failing. Replacing the
//! handle fails every flush ticket taken on it (see `group_commit`).

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::error::StoreError;
use super::group_commit::{GroupCommit, Ticket};
use super::settings::StoreSettings;

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
    broken: AtomicBool,
    /// The flush tickets of writes to this database.
    pub(crate) commit: GroupCommit,
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
        Ok(Database {
            dir: dir.to_owned(),
            settings,
            handle: RwLock::new(Handle {
                db: Some(db),
                last_reopen: None,
            }),
            broken: AtomicBool::new(false),
            commit: GroupCommit::new(),
        })
    }

    /// Runs `operation` on the database, reopening it first if it failed
    /// before. A storage error from `operation` marks the handle broken and
    /// is logged.
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

    /// Marks the handle broken after a storage error.
    pub(crate) fn note_failure(&self, error: &StoreError) {
        if let StoreError::Unavailable { reason } = error
            && !self.broken.swap(true, Ordering::AcqRel)
        {
            tracing::error!(%reason, "Message store failed; answering AE until storage is back.");
        }
    }

    /// Flushes every write applied so far and resolves the tickets it covers.
    pub(crate) fn flush(&self, target: Ticket) {
        let handle = self.handle.read().expect("lock not poisoned");
        let outcome = match &handle.db {
            Some(db) => db.flush().map(drop).map_err(|error| error.to_string()),
            None => Err(NOT_BACK.to_owned()),
        };
        drop(handle);
        if let Err(reason) = &outcome {
            self.note_failure(&StoreError::unavailable(reason.clone()));
        }
        self.commit.complete(target, outcome);
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
        self.commit
            .fail_all_requested("the database was reopened after a storage failure");
        drop(handle.db.take());
        match open_sled(&self.dir, &self.settings) {
            Ok(db) => {
                handle.db = Some(db);
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
