//! A condition variable that skips the wake-up when nobody waits.
//!
//! The standard library's `Condvar` makes a system call on every
//! `notify_*`, waiters or not, because it does not count them. The store
//! signals once or twice per flush and per applied group, mostly with
//! nobody waiting; on this project's virtual machines each such call costs
//! several microseconds on a sender's way to its ACK.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, MutexGuard};
use std::time::Duration;

/// A `Condvar` with a count of its waiters.
///
/// Use it with one mutex, as a `Condvar`: change what the waiters check
/// while holding that mutex, then notify (holding it or after). A waiter
/// counts itself while it holds the mutex, before it checks and sleeps, so
/// a notifier that changed the state under the mutex either sees the count
/// or the waiter sees the change.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    condvar: Condvar,
    /// Threads inside [`Signal::wait`] or [`Signal::wait_timeout`]; only
    /// changed under the mutex, whose locking orders it (hence `Relaxed`).
    waiting: AtomicUsize,
}

impl Signal {
    /// Blocks until notified (or woken spuriously), as `Condvar::wait`.
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let guard = self.condvar.wait(guard).expect("lock not poisoned");
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        guard
    }

    /// Blocks until notified or `timeout` has passed, as
    /// `Condvar::wait_timeout`.
    pub(crate) fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> MutexGuard<'a, T> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let (guard, _) = self
            .condvar
            .wait_timeout(guard, timeout)
            .expect("lock not poisoned");
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        guard
    }

    /// Wakes one waiter, if any.
    pub(crate) fn notify_one(&self) {
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.condvar.notify_one();
        }
    }

    /// Wakes every waiter, if any.
    pub(crate) fn notify_all(&self) {
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.condvar.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::thread;

    use super::*;

    /// Ensures that a notification reaches a thread that is waiting, however
    /// the two interleave, and that notifying nobody is harmless.
    #[test]
    fn notification_reaches_a_waiter() {
        let signal = Signal::default();
        signal.notify_all();
        let ready = Mutex::new(0_u32);
        for round in 1..=200 {
            thread::scope(|scope| {
                scope.spawn(|| {
                    let mut state = ready.lock().unwrap();
                    while *state < round {
                        state = signal.wait(state);
                    }
                });
                *ready.lock().unwrap() = round;
                signal.notify_one();
            });
        }
        assert_eq!(signal.waiting.load(Ordering::Relaxed), 0);
    }
}
