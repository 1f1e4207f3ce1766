//! The indexer's bookkeeping: groups of log records that are durable but not
//! yet applied to sled, the dedupe entries they hold, and how far applying
//! has got.
//!
//! The flusher submits each group it has fsynced (and published, so its
//! senders are acknowledged at once); the indexer thread applies one group
//! per sled batch, in order (see `Database::apply_group`). Until a group is
//! applied its messages exist only in the log, so:
//!
//! - its dedupe entries stay in [`Indexer::pending_duplicate`]'s map, which
//!   ingest checks before sled: an entry leaves the map only after sled holds
//!   it;
//! - readers of messages and queues call [`Indexer::catch_up`] first, which
//!   waits until every group submitted so far is applied, so whatever was
//!   acknowledged is visible;
//! - the flusher waits in [`Indexer::wait_for_room`] while more than
//!   [`MAX_BACKLOG_BYTES`] wait, which slows acknowledgements down to the
//!   speed sled can index at instead of letting the backlog grow.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::dedupe::DedupeEntry;

/// How many bytes of log records may wait for the indexer before the flusher
/// waits for it.
const MAX_BACKLOG_BYTES: usize = 16 << 20;

/// A group of durable log records, as appended.
#[derive(Debug)]
pub(crate) struct Group {
    /// Its place in submission order, from 1.
    pub(crate) number: u64,
    /// The database generation it was written under (see
    /// `Database::apply_group`).
    pub(crate) generation: u64,
    /// Framed log records (see `wal.rs`).
    pub(crate) records: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Group>,
    queued_bytes: usize,
    /// The number of the last group submitted.
    submitted: u64,
    /// Every group up to this number is applied (or was discarded because
    /// recovery applied it).
    applied: u64,
    shutdown: bool,
}

/// Shared between the flusher, the indexer thread, writers and readers.
#[derive(Debug, Default)]
pub(crate) struct Indexer {
    state: Mutex<State>,
    /// Signalled when a group is submitted or the indexer should stop.
    submitted: Condvar,
    /// Signalled when groups are applied or discarded.
    applied: Condvar,
    /// Dedupe entries of messages not yet in sled, by dedupe key.
    pending_dedupe: Mutex<HashMap<Vec<u8>, DedupeEntry>>,
}

impl Indexer {
    /// The dedupe entry of a message under `key` that sled does not hold
    /// yet, if there is one. Check it before sled: an entry leaves this map
    /// only once sled has it.
    pub(crate) fn pending_duplicate(&self, key: &[u8]) -> Option<DedupeEntry> {
        self.dedupe().get(key).copied()
    }

    /// Notes the dedupe entry of a message about to enter the log.
    pub(crate) fn remember(&self, key: Vec<u8>, entry: DedupeEntry) {
        self.dedupe().insert(key, entry);
    }

    /// Forgets the dedupe entries sled now holds, unless a newer message
    /// took the key meanwhile.
    pub(crate) fn forget(&self, indexed: impl IntoIterator<Item = (Vec<u8>, u64)>) {
        let mut pending = self.dedupe();
        for (key, id) in indexed {
            if pending.get(&key).is_some_and(|entry| entry.id == id) {
                pending.remove(&key);
            }
        }
    }

    /// Whether the backlog has room: a flush would not wait.
    pub(crate) fn has_room(&self) -> bool {
        self.lock().queued_bytes <= MAX_BACKLOG_BYTES
    }

    /// Blocks while the backlog is over [`MAX_BACKLOG_BYTES`].
    pub(crate) fn wait_for_room(&self) {
        let mut state = self.lock();
        while state.queued_bytes > MAX_BACKLOG_BYTES && !state.shutdown {
            state = self.applied.wait(state).expect("lock not poisoned");
        }
    }

    /// Queues a group of durable records for the indexer thread.
    pub(crate) fn submit(&self, generation: u64, records: Vec<u8>) {
        if records.is_empty() {
            return;
        }
        let mut state = self.lock();
        state.submitted += 1;
        state.queued_bytes += records.len();
        let number = state.submitted;
        state.queue.push_back(Group {
            number,
            generation,
            records,
        });
        self.submitted.notify_one();
    }

    /// The next group to apply, blocking until there is one; `None` once
    /// the indexer is shutting down and every group is applied.
    pub(crate) fn next_group(&self) -> Option<Group> {
        let mut state = self.lock();
        loop {
            if let Some(group) = state.queue.pop_front() {
                state.queued_bytes -= group.records.len();
                return Some(group);
            }
            if state.shutdown {
                return None;
            }
            state = self.submitted.wait(state).expect("lock not poisoned");
        }
    }

    /// Records that `group` was applied (or skipped).
    pub(crate) fn finished(&self, group: &Group) {
        let mut state = self.lock();
        state.applied = state.applied.max(group.number);
        self.applied.notify_all();
    }

    /// Waits until every group submitted so far is applied.
    pub(crate) fn catch_up(&self) {
        self.wait_applied(self.last_submitted());
    }

    /// The number of the last group submitted: once it is applied, so is
    /// every record appended before this call returned.
    pub(crate) fn last_submitted(&self) -> u64 {
        self.lock().submitted
    }

    /// Waits until group `number` and every one before it is applied.
    pub(crate) fn wait_applied(&self, number: u64) {
        let mut state = self.lock();
        while state.applied < number {
            state = self.applied.wait(state).expect("lock not poisoned");
        }
    }

    /// Drops every queued group and pending dedupe entry: recovery has just
    /// applied the log to a new database handle.
    pub(crate) fn discard(&self) {
        let mut state = self.lock();
        state.queue.clear();
        state.queued_bytes = 0;
        state.applied = state.submitted;
        self.dedupe().clear();
        self.applied.notify_all();
    }

    /// Lets the indexer thread end once the queue is empty.
    pub(crate) fn shut_down(&self) {
        self.lock().shutdown = true;
        self.submitted.notify_all();
        self.applied.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("lock not poisoned")
    }

    fn dedupe(&self) -> MutexGuard<'_, HashMap<Vec<u8>, DedupeEntry>> {
        self.pending_dedupe.lock().expect("lock not poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that groups come out in order, that catching up waits for
    /// the groups submitted before it and that discarding releases waiters.
    #[test]
    fn groups_apply_in_order_and_discard_releases_waiters() {
        let indexer = Indexer::default();
        indexer.submit(0, vec![1]);
        indexer.submit(0, Vec::new());
        indexer.submit(0, vec![2, 2]);
        assert_eq!(indexer.last_submitted(), 2, "empty groups are not queued");
        let first = indexer.next_group().unwrap();
        assert_eq!((first.number, first.records.as_slice()), (1, &[1][..]));
        indexer.finished(&first);
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| indexer.catch_up());
            let second = indexer.next_group().unwrap();
            assert_eq!(second.number, 2);
            indexer.finished(&second);
            waiter.join().unwrap();
        });

        indexer.remember(
            b"k".to_vec(),
            DedupeEntry {
                id: 5,
                received_at_ms: 1,
            },
        );
        indexer.forget([(b"k".to_vec(), 4)]);
        assert!(
            indexer.pending_duplicate(b"k").is_some(),
            "another id stays"
        );
        indexer.submit(0, vec![3]);
        indexer.discard();
        indexer.catch_up();
        assert!(indexer.pending_duplicate(b"k").is_none());
        indexer.shut_down();
        assert!(indexer.next_group().is_none());
    }
}
