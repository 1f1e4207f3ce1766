//! The store's two threads: the flusher, which appends and fsyncs the
//! write-ahead log for waiting writers, and the checkpointer, which flushes
//! sled every [`CHECKPOINT_INTERVAL`] so that old log segments can go.

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
    checkpointer: JoinHandle<()>,
    // Dropping it ends the checkpointer after a last checkpoint.
    stop_checkpoints: Sender<()>,
}

impl Background {
    /// Starts both threads.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if a thread cannot be started.
    pub(crate) fn spawn(database: &Arc<Database>) -> Result<Background, StoreError> {
        // The checkpointer first: if the flusher cannot start, dropping
        // `stop_checkpoints` on the way out ends it.
        let (stop_checkpoints, stop) = mpsc::channel();
        let checkpointer = Arc::clone(database);
        let checkpointer = spawn("store-checkpointer", move || {
            while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
                checkpointer.checkpoint();
            }
            checkpointer.checkpoint();
        })?;
        let flusher = Arc::clone(database);
        let flusher = spawn("store-flusher", move || {
            let mut buffer = Vec::new();
            while flusher.commit.wait_for_work() {
                buffer = flusher.flush_log(buffer);
            }
        })?;
        Ok(Background {
            flusher,
            checkpointer,
            stop_checkpoints,
        })
    }

    /// Ends both threads, the checkpointer after a last checkpoint, and
    /// waits for them.
    pub(crate) fn stop(self, database: &Database) {
        database.commit.shut_down();
        let _ = self.flusher.join();
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
