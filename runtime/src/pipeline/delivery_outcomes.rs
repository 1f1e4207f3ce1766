//! The latest delivery outcomes at a channel's ACK destination, for the
//! connections that wait to answer an `after_delivery` ACK. Kept in memory
//! only: a sender waits on its connection, which a restart closes anyway.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

/// How many messages' outcomes a channel remembers; older ones are
/// forgotten first.
const REMEMBERED: usize = 16_384;

/// What became of a message at the ACK destination, so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The destination accepted it (AA, 2xx, file written, handed over).
    Delivered,
    /// An attempt failed and will be retried; why.
    Retrying(String),
    /// It went to the dead-letter queue (refused, or retries exhausted);
    /// why.
    DeadLettered(String),
}

/// The outcomes of one channel's ACK destination, by message id.
#[derive(Debug, Default)]
pub struct DeliveryOutcomes {
    recent: Mutex<Recent>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct Recent {
    by_message: HashMap<u64, DeliveryOutcome>,
    order: VecDeque<u64>,
}

impl DeliveryOutcomes {
    /// Records the outcome of message `message_id`'s attempt, replacing an
    /// earlier one, and wakes every waiter.
    pub fn record(&self, message_id: u64, outcome: DeliveryOutcome) {
        {
            let mut recent = self.recent.lock().expect("outcomes lock");
            if recent.by_message.insert(message_id, outcome).is_none() {
                recent.order.push_back(message_id);
            }
            while recent.order.len() > REMEMBERED {
                let oldest = recent.order.pop_front().expect("not empty");
                recent.by_message.remove(&oldest);
            }
        }
        self.changed.notify_waiters();
    }

    /// The latest outcome of message `message_id`, if it is remembered.
    pub fn get(&self, message_id: u64) -> Option<DeliveryOutcome> {
        let recent = self.recent.lock().expect("outcomes lock");
        recent.by_message.get(&message_id).cloned()
    }

    /// Signalled (to all waiters) whenever an outcome is recorded.
    pub fn changed(&self) -> &Notify {
        &self.changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that a later outcome replaces an earlier one and that the
    /// oldest messages are forgotten first.
    #[test]
    fn the_latest_outcomes_of_the_newest_messages_are_kept() {
        let outcomes = DeliveryOutcomes::default();
        outcomes.record(1, DeliveryOutcome::Retrying("AE".into()));
        outcomes.record(1, DeliveryOutcome::Delivered);
        assert_eq!(outcomes.get(1), Some(DeliveryOutcome::Delivered));
        for id in 2..=REMEMBERED as u64 + 1 {
            outcomes.record(id, DeliveryOutcome::Delivered);
        }
        assert_eq!(outcomes.get(1), None, "the oldest is forgotten");
        assert_eq!(outcomes.get(2), Some(DeliveryOutcome::Delivered));
    }
}
