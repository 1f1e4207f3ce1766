//! The indexer's bookkeeping: groups of log records that are durable but not
//! yet applied to sled, and how far applying has got.
//!
//! The flusher submits each group it has fsynced (and published, so its
//! senders are acknowledged at once); the indexer thread applies one group
//! at a time, in order (see `Database::apply_group`). Until a group is
//! applied its messages exist only in the log (and their dedupe entries in
//! the in-memory dedupe index, see `dedupe_index.rs`), so:
//!
//! - readers of messages and queues call [`Indexer::catch_up`] first, which
//!   waits until every group submitted so far is applied, so whatever was
//!   acknowledged is visible;
//! - the flusher waits in [`Indexer::wait_for_room`] while more than
//!   [`MAX_BACKLOG_BYTES`] wait, which slows acknowledgements down to the
//!   speed sled can index at instead of letting the backlog grow.
//!
//! After applying, the indexer thread lingers for [`LINGER`] before it
//! sleeps: groups submitted meanwhile wait for the end of the linger and
//! are then applied one after the other. A lone sender's messages, each
//! its own group, thus wake the thread about once per [`LINGER`] instead of
//! once per message; a wake-up costs more CPU than applying a message on
//! this project's virtual machines (docs/BENCHMARKS.md, "An indexer and
//! workers that linger"). A reader that waits in
//! [`Indexer::catch_up`] ends the linger at once, and so does
//! [`Indexer::hurry`] (a sender waits for its message's pipeline); an idle
//! thread is woken by the first group submitted.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::signal::Signal;

/// How many bytes of log records may wait for the indexer before the flusher
/// waits for it.
const MAX_BACKLOG_BYTES: usize = 16 << 20;

/// How long the indexer thread waits for more groups after applying, before
/// it sleeps until woken. Bounds what it adds to a message's way from its
/// acknowledgement to its pipeline.
const LINGER: Duration = Duration::from_millis(1);

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
    /// What the indexer thread is doing: who must wake it.
    phase: Phase,
    /// The highest group a reader waits for in [`Indexer::wait_applied`],
    /// or a sender asked for in [`Indexer::hurry`]: the thread does not
    /// linger while it is not applied.
    wanted: u64,
    shutdown: bool,
}

/// What the indexer thread is doing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Applying a group: it looks at the queue again before waiting.
    #[default]
    Applying,
    /// Waiting out [`LINGER`]: only a waiting reader, a hurry or shutdown
    /// wakes it.
    Lingering,
    /// Asleep until a group is submitted.
    Idle,
}

/// Shared between the flusher, the indexer thread, writers and readers.
#[derive(Debug)]
pub(crate) struct Indexer {
    /// How long the thread lingers ([`LINGER`] but in tests).
    linger: Duration,
    state: Mutex<State>,
    /// Signalled when the indexer thread has to act: a group submitted
    /// while it is idle, a reader waiting or a hurry while it lingers, or
    /// shutdown.
    work: Signal,
    /// Signalled when groups are applied or discarded.
    applied: Signal,
}

impl Default for Indexer {
    fn default() -> Self {
        Indexer::lingering(LINGER)
    }
}

impl Indexer {
    /// An indexer whose thread lingers for `linger` after applying.
    fn lingering(linger: Duration) -> Self {
        Indexer {
            linger,
            state: Mutex::default(),
            work: Signal::default(),
            applied: Signal::default(),
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
            state = self.applied.wait(state);
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
        if state.phase == Phase::Idle {
            self.work.notify_one();
        }
    }

    /// The next group to apply, blocking until there is one; `None` once
    /// the indexer is shutting down and every group is applied. The
    /// indexer thread calls it after each group it applied: with the queue
    /// empty, it lingers first (see [`LINGER`]).
    pub(crate) fn next_group(&self) -> Option<Group> {
        let mut state = self.lock();
        if state.queue.is_empty() {
            state = self.linger(state);
        }
        state.phase = Phase::Idle;
        loop {
            if let Some(group) = state.queue.pop_front() {
                state.queued_bytes -= group.records.len();
                state.phase = Phase::Applying;
                return Some(group);
            }
            if state.shutdown {
                return None;
            }
            state = self.work.wait(state);
        }
    }

    /// Waits out the linger, unless a group not yet applied is wanted (see
    /// [`State::wanted`]) or the store shuts down.
    fn linger<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.phase = Phase::Lingering;
        let until = Instant::now() + self.linger;
        while state.wanted <= state.applied && !state.shutdown {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self.work.wait_timeout(state, left);
        }
        state
    }

    /// Ends the thread's linger, if it lingers, so that the groups
    /// submitted so far are applied at once. Those submitted later linger
    /// as usual.
    pub(crate) fn hurry(&self) {
        let mut state = self.lock();
        let submitted = state.submitted;
        self.want(&mut state, submitted);
    }

    /// Notes that group `number` is wanted now, ending a linger for it.
    fn want(&self, state: &mut State, number: u64) {
        state.wanted = state.wanted.max(number);
        if state.phase == Phase::Lingering && state.applied < number {
            self.work.notify_one();
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
        if state.applied >= number {
            return;
        }
        self.want(&mut state, number);
        while state.applied < number {
            state = self.applied.wait(state);
        }
    }

    /// Drops every queued group: recovery has just applied the log to a new
    /// database handle.
    pub(crate) fn discard(&self) {
        let mut state = self.lock();
        state.queue.clear();
        state.queued_bytes = 0;
        state.applied = state.submitted;
        self.applied.notify_all();
    }

    /// Lets the indexer thread end once the queue is empty.
    pub(crate) fn shut_down(&self) {
        self.lock().shutdown = true;
        self.work.notify_all();
        self.applied.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("lock not poisoned")
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

        indexer.submit(0, vec![3]);
        indexer.discard();
        indexer.catch_up();
        indexer.shut_down();
        assert!(indexer.next_group().is_none());
    }

    /// Ensures that a group submitted while the thread lingers waits for
    /// the linger, and that a reader waiting for it, or a hurry, ends the
    /// linger at once.
    #[test]
    fn linger_holds_groups_until_a_reader_waits() {
        let indexer = Indexer::lingering(Duration::from_secs(30));
        indexer.submit(0, vec![1]);
        let (held, [caught_up_in, hurried_in]) = std::thread::scope(|scope| {
            scope.spawn(|| {
                while let Some(group) = indexer.next_group() {
                    indexer.finished(&group);
                }
            });
            // It lingers after applying the first group.
            while indexer.lock().phase != Phase::Lingering {
                std::thread::sleep(Duration::from_millis(1));
            }
            indexer.submit(0, vec![2]);
            std::thread::sleep(Duration::from_millis(50));
            let held = indexer.lock().applied == 1;
            let started = Instant::now();
            indexer.catch_up();
            let caught_up_in = started.elapsed();
            while indexer.lock().phase != Phase::Lingering {
                std::thread::sleep(Duration::from_millis(1));
            }
            indexer.submit(0, vec![3]);
            let started = Instant::now();
            indexer.hurry();
            while indexer.lock().applied < 3 {
                std::thread::sleep(Duration::from_millis(1));
            }
            let hurried_in = started.elapsed();
            indexer.shut_down();
            (held, [caught_up_in, hurried_in])
        });
        assert!(held, "the second group waits out the linger");
        assert!(
            caught_up_in < Duration::from_secs(10),
            "the reader ended the linger"
        );
        assert!(
            hurried_in < Duration::from_secs(10),
            "the hurry ended the linger"
        );
    }
}
