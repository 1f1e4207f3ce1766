//! Retention: removing old messages, their statuses and old dead letters.
//!
//! A message still in its inbound queue, or whose body an outbound entry
//! still waiting delivers by reference, is kept whatever its age. Old
//! messages are long out of the write-ahead log (it holds about a second of
//! writes), so replay cannot bring a pruned message back.

use std::time::Duration;

use super::dead_letter::DeadLetterHeader;
use super::error::StoreError;
use super::outbound::OutboundHeader;
use super::{Store, framed, keys, record};

/// What one pruning pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Messages (with their status records).
    pub messages: usize,
    /// Dead letters.
    pub dead_letters: usize,
    /// Expired dedupe entries.
    pub dedupe_entries: usize,
}

/// How long things are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Messages.
    pub messages: Duration,
    /// Dead letters.
    pub dead_letters: Duration,
}

impl Store {
    /// Removes, as of `now_ms`, messages older than the retention that are
    /// no longer queued (nor waiting in an outbound entry that delivers
    /// them by reference), dead letters older than theirs, and expired
    /// dedupe entries.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// for an entry that cannot be decoded.
    pub fn prune(&self, now_ms: u64, retention: Retention) -> Result<Pruned, StoreError> {
        let cutoff = |keep: Duration| now_ms.saturating_sub(keep.as_millis() as u64);
        let message_cutoff = cutoff(retention.messages);
        let letter_cutoff = cutoff(retention.dead_letters);
        let mut old_messages = Vec::new();
        let mut old_letters = Vec::new();
        // Indexed first: a message whose record the indexer wrote but has
        // not queued yet would look processed.
        let database = &self.inner.database;
        database.with_indexed_db(|db| {
            // Messages that waiting outbound entries deliver by reference.
            let mut delivered_by_reference = database.held.messages();
            for item in db.scan_prefix(keys::OUTBOUND_PREFIX) {
                let (key, value) = item?;
                let header: OutboundHeader = framed::decode_header(&key, &value)?;
                if header.body_in_message {
                    delivered_by_reference.insert(header.message_id);
                }
            }
            for item in db.scan_prefix(keys::MESSAGE_PREFIX) {
                let (key, value) = item?;
                let id = keys::trailing_id(&key).expect("message keys end in an id");
                let route = record::route(id, &value)?;
                let queued = database.queues.contains(route.channel, id)
                    || delivered_by_reference.contains(&id);
                if route.received_at_ms < message_cutoff && !queued {
                    old_messages.push(id);
                }
            }
            for item in db.scan_prefix(keys::DEAD_LETTER_PREFIX) {
                let (key, value) = item?;
                let header: DeadLetterHeader = framed::decode_header(&key, &value)?;
                if header.last_failure_ms < letter_cutoff {
                    old_letters.push(key);
                }
            }
            Ok(())
        })?;
        self.write_progress(|_| {
            let mut batch = sled::Batch::default();
            for id in &old_messages {
                batch.remove(keys::message(*id));
                batch.remove(keys::status(*id));
            }
            for key in &old_letters {
                batch.remove(key);
            }
            Ok(batch)
        })?;
        database.recent.remove(&old_messages);
        let dedupe_entries = self.prune_dedupe(now_ms)?;
        Ok(Pruned {
            messages: old_messages.len(),
            dead_letters: old_letters.len(),
            dedupe_entries,
        })
    }
}
