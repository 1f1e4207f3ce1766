//! Group commit: many writers share one fsync.
//!
//! A writer applies its batch, then takes a [`Ticket`] (the next number of
//! the "requested" counter) and waits until the flusher reports that number
//! durable. One flusher thread loops: wait until something is requested,
//! note the highest ticket, call sled's blocking `flush` once, publish that
//! ticket as durable. Every write applied before a ticket was taken is
//! covered by the flush that resolves it.
//!
//! A dedicated thread with the blocking `flush` rather than `flush_async` per
//! writer: in sled 0.34.7 `flush_async` hangs once eight or more tasks await
//! it at the same time (sled issue #1308).
//!
//! A ticket can also fail: when a flush fails, and when the database is
//! reopened after a failure (writes applied to the old handle may be lost).
//! Failure wins over durability, so a caller never ACKs a write that only
//! sat in a database that failed.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::watch;

use super::error::StoreError;

/// A promise that the writes applied before it was taken become durable.
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
}

/// The shared counters between writers and the flusher.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    requests: Mutex<Requests>,
    work: Condvar,
    progress: watch::Sender<Progress>,
    // Blocking waiters cannot await the watch channel; they wait on this
    // condvar, paired with `requests` and notified on every publication.
    published: Condvar,
}

impl GroupCommit {
    /// Counters with nothing requested.
    pub(crate) fn new() -> Self {
        GroupCommit {
            requests: Mutex::new(Requests::default()),
            work: Condvar::new(),
            progress: watch::Sender::new(Progress::default()),
            published: Condvar::new(),
        }
    }

    /// Takes a ticket covering every write applied so far and wakes the
    /// flusher.
    pub(crate) fn request(&self) -> Ticket {
        let mut requests = self.lock();
        requests.requested += 1;
        self.work.notify_one();
        Ticket(requests.requested)
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
            requests = self.published.wait(requests).expect("lock not poisoned");
        }
    }

    /// Blocks the flusher until a ticket is waiting for a flush, and returns
    /// the highest one; `None` once the store is shutting down.
    pub(crate) fn next_target(&self) -> Option<Ticket> {
        let mut requests = self.lock();
        while requests.requested == requests.started && !requests.shutdown {
            requests = self.work.wait(requests).expect("lock not poisoned");
        }
        if requests.shutdown {
            return None;
        }
        requests.started = requests.requested;
        Some(Ticket(requests.started))
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

    /// Fails every ticket handed out so far: the database they were written
    /// to is being replaced.
    pub(crate) fn fail_all_requested(&self, reason: &str) {
        let requests = self.lock();
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

    /// Ensures that one flush resolves every ticket taken before it and that
    /// a failure fails exactly the tickets it covers, even if a later
    /// success reaches past them.
    #[test]
    fn flush_resolves_earlier_tickets_and_failure_wins() {
        let commit = GroupCommit::new();
        let first = commit.request();
        let second = commit.request();
        let target = commit.next_target().unwrap();
        commit.complete(target, Ok(()));
        assert!(commit.wait_blocking(first).is_ok());
        assert!(commit.wait_blocking(second).is_ok());

        let third = commit.request();
        commit.fail_all_requested("reopened");
        let fourth = commit.request();
        let target = commit.next_target().unwrap();
        commit.complete(target, Ok(()));
        assert!(commit.wait_blocking(third).is_err());
        assert!(commit.wait_blocking(fourth).is_ok());
    }
}
