//! The store's three threads: the flusher, which appends and fsyncs the
//! write-ahead log for waiting writers, the indexer, which applies what the
//! flusher made durable to sled, and the checkpointer, which flushes sled
//! every [`CHECKPOINT_INTERVAL`] so that old log segments can go.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::database::Database;
use super::error::StoreError;

/// How often sled is flushed and the log segments it covers deleted, which
/// bounds the log a crash leaves to replay: about one second of writes.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// The running threads of one store.
#[derive(Debug)]
pub(crate) struct Background {
    flusher: JoinHandle<()>,
    indexer: JoinHandle<()>,
    checkpointer: JoinHandle<()>,
    // Dropping it ends the checkpointer after a last checkpoint.
    stop_checkpoints: Sender<()>,
}

impl Background {
    /// Starts the threads.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if a thread cannot be started.
    pub(crate) fn spawn(database: &Arc<Database>) -> Result<Background, StoreError> {
        // The checkpointer first: if another thread cannot start, dropping
        // `stop_checkpoints` on the way out ends it.
        let (stop_checkpoints, stop) = mpsc::channel();
        let checkpointer = Arc::clone(database);
        let checkpointer = spawn("store-checkpointer", move || {
            while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
                checkpointer.checkpoint();
            }
            checkpointer.checkpoint();
        })?;
        let indexer = Arc::clone(database);
        let indexer = spawn("store-indexer", move || {
            while let Some(group) = indexer.indexer.next_group() {
                indexer.apply_group(&group);
            }
        })?;
        let flusher = Arc::clone(database);
        let flusher = spawn("store-flusher", move || {
            while flusher.commit.wait_for_work() {
                flusher.flush_log();
            }
        });
        let flusher = flusher.inspect_err(|_| database.indexer.shut_down())?;
        Ok(Background {
            flusher,
            indexer,
            checkpointer,
            stop_checkpoints,
        })
    }

    /// Ends the threads, the indexer once it has applied every durable
    /// record and the checkpointer after a last checkpoint, and waits for
    /// them.
    pub(crate) fn stop(self, database: &Database) {
        database.commit.shut_down();
        let _ = self.flusher.join();
        database.indexer.shut_down();
        let _ = self.indexer.join();
        drop(self.stop_checkpoints);
        let _ = self.checkpointer.join();
    }
}

fn spawn(name: &str, run: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(run)
        .map_err(|error| StoreError::unavailable(format!("cannot start {name}: {error}")))
}
