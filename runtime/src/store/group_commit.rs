//! Group commit: many writers share one write-ahead log append and fsync.
//!
//! A writer appends its log record to the pending buffer and takes a
//! [`Ticket`] (the next number of the "requested" counter) in one step under
//! one mutex, so tickets are in the order of the bytes. It then flushes
//! itself if it can take the log's lock at once (no flush under way), or
//! wakes the flusher thread, and waits until its number is durable. A flush,
//! by either, takes the pending bytes and notes the highest ticket, appends
//! and fsyncs them (see `wal.rs`), hands them to the indexer and publishes
//! that ticket as durable. A ticket taken with no record (a duplicate) is
//! covered by the same flush as every record before it.
//!
//! Records that arrive during a flush wait for the next: their writers
//! found the log locked and woke the flusher, which takes the lock when the
//! flush ends. A lone sender thus pays no thread hand-off, and many share
//! each fsync.
//!
//! A ticket can also fail: when an append fails, and when the database is
//! reopened after a failure (writes applied to the old handle may be lost;
//! their unwritten records are dropped). Failure wins over durability, so a
//! caller never ACKs a write that only sat in a log or database that failed.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::error::StoreError;
use super::signal::Signal;

/// A promise that the records appended before it was taken become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ticket(u64);

/// How far flushing has got: what the waiters watch.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every ticket up to this one is durable, unless it failed.
    durable: u64,
    /// Every ticket up to this one failed.
    failed_through: u64,
    /// Why the last failure happened.
    failure: Option<Arc<str>>,
}

impl Progress {
    /// The outcome of `ticket`, or `None` while it is pending.
    fn outcome(&self, ticket: Ticket) -> Option<Result<(), StoreError>> {
        if ticket.0 <= self.failed_through {
            let reason = self.failure.as_deref().unwrap_or("storage failed");
            return Some(Err(StoreError::unavailable(format!(
                "not flushed to disk: {reason}"
            ))));
        }
        (ticket.0 <= self.durable).then_some(Ok(()))
    }
}

/// The flusher's side of the counters.
#[derive(Debug, Default)]
struct Requests {
    /// The last ticket handed out.
    requested: u64,
    /// The last ticket a flush was started for.
    started: u64,
    /// Set when the store is dropped: the flusher ends.
    shutdown: bool,
    /// Framed log records not yet taken by the flusher.
    pending: Vec<u8>,
}

/// The shared counters between writers and the flusher.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    requests: Mutex<Requests>,
    work: Signal,
    progress: watch::Sender<Progress>,
    // Blocking waiters cannot await the watch channel; they wait on this
    // condvar, paired with `requests` and notified on every publication.
    published: Signal,
}

impl GroupCommit {
    /// Counters with nothing requested.
    pub(crate) fn new() -> Self {
        GroupCommit {
            requests: Mutex::new(Requests::default()),
            work: Signal::default(),
            progress: watch::Sender::new(Progress::default()),
            published: Signal::default(),
        }
    }

    /// Appends a log record to the pending buffer with `append_record` (or
    /// nothing) and takes a ticket covering it and every record before it.
    /// The caller then flushes itself or calls [`GroupCommit::wake_flusher`].
    pub(crate) fn request(&self, append_record: impl FnOnce(&mut Vec<u8>)) -> Ticket {
        let mut requests = self.lock();
        append_record(&mut requests.pending);
        requests.requested += 1;
        Ticket(requests.requested)
    }

    /// Wakes the flusher for the tickets taken so far.
    pub(crate) fn wake_flusher(&self) {
        self.work.notify_one();
    }

    /// Waits until `ticket` is durable.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the flush covering it failed.
    pub(crate) async fn wait(&self, ticket: Ticket) -> Result<(), StoreError> {
        let mut progress = self.progress.subscribe();
        let resolved = progress.wait_for(|p| p.outcome(ticket).is_some()).await;
        let resolved = resolved.expect("the sender lives in self");
        resolved.outcome(ticket).expect("resolved")
    }

    /// Waits until `ticket` is durable, blocking the thread.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if the flush covering it failed.
    pub(crate) fn wait_blocking(&self, ticket: Ticket) -> Result<(), StoreError> {
        let mut requests = self.lock();
        loop {
            if let Some(outcome) = self.progress.borrow().outcome(ticket) {
                return outcome;
            }
            requests = self.published.wait(requests);
        }
    }

    /// Whether `ticket` is resolved (durable or failed), without waiting.
    pub(crate) fn is_resolved(&self, ticket: Ticket) -> bool {
        self.progress.borrow().outcome(ticket).is_some()
    }

    /// Blocks the flusher until a ticket is waiting for a flush; `false`
    /// once the store is shutting down.
    pub(crate) fn wait_for_work(&self) -> bool {
        let mut requests = self.lock();
        while requests.requested == requests.started && !requests.shutdown {
            requests = self.work.wait(requests);
        }
        !requests.shutdown
    }

    /// Takes the pending records and returns them with the highest ticket
    /// they cover.
    pub(crate) fn take(&self) -> (Ticket, Vec<u8>) {
        let mut requests = self.lock();
        requests.started = requests.requested;
        let records = std::mem::take(&mut requests.pending);
        (Ticket(requests.started), records)
    }

    /// Publishes the outcome of the flush started for `target`.
    pub(crate) fn complete(&self, target: Ticket, outcome: Result<(), String>) {
        let _requests = self.lock();
        self.progress.send_modify(|progress| match outcome {
            Ok(()) => progress.durable = progress.durable.max(target.0),
            Err(reason) => fail(progress, target.0, reason),
        });
        self.published.notify_all();
    }

    /// Fails every ticket handed out so far and drops the pending records:
    /// the database they were written to is being replaced.
    pub(crate) fn fail_all_requested(&self, reason: &str) {
        let mut requests = self.lock();
        requests.pending.clear();
        let requested = requests.requested;
        self.progress
            .send_modify(|progress| fail(progress, requested, reason.to_owned()));
        self.published.notify_all();
    }

    /// Ends the flusher loop.
    pub(crate) fn shut_down(&self) {
        self.lock().shutdown = true;
        self.work.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, Requests> {
        self.requests.lock().expect("lock not poisoned")
    }
}

fn fail(progress: &mut Progress, through: u64, reason: String) {
    if through > progress.failed_through {
        progress.failed_through = through;
        progress.failure = Some(reason.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that one flush resolves every ticket taken before it, takes
    /// their records in ticket order, and that a failure fails exactly the
    /// tickets it covers, even if a later success reaches past them.
    #[test]
    fn flush_resolves_earlier_tickets_and_failure_wins() {
        let commit = GroupCommit::new();
        let first = commit.request(|pending| pending.push(1));
        let second = commit.request(|_| {});
        let third = commit.request(|pending| pending.push(3));
        assert!(commit.wait_for_work());
        let (target, records) = commit.take();
        assert_eq!(records, [1, 3]);
        commit.complete(target, Ok(()));
        for ticket in [first, second, third] {
            assert!(commit.wait_blocking(ticket).is_ok());
        }

        let fourth = commit.request(|pending| pending.push(4));
        commit.fail_all_requested("reopened");
        let fifth = commit.request(|pending| pending.push(5));
        let (target, records) = commit.take();
        assert_eq!(records, [5], "records of failed tickets are dropped");
        commit.complete(target, Ok(()));
        assert!(commit.wait_blocking(fourth).is_err());
        assert!(commit.wait_blocking(fifth).is_ok());
    }
}
