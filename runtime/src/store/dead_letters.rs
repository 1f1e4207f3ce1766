//! Operating the dead-letter queue: list, count, reprocess and purge.
//!
//! Reprocessing and purging are administrator actions: each flushes sled
//! before it returns, so what the administrator was told is durable.

use super::dead_letter::{DeadLetter, DeadLetterFilter, DeadLetterHeader};
use super::error::StoreError;
use super::outbound::OutboundHeader;
use super::queues::InboundQueues;
use super::record::{self, NewMessage};
use super::status::{self, MessageState, MessageStatus};
use super::{Store, framed, keys};

/// Where a reprocessed dead letter went back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeued {
    /// The dead letter's sequence.
    pub sequence: u64,
    /// Its channel.
    pub channel: String,
    /// Its destination's queue, or `None` for the channel's inbound queue.
    pub destination: Option<String>,
    /// Its partition.
    pub partition: u32,
}

impl Store {
    /// The dead letters `filter` matches, oldest first, at most `limit`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// if an entry cannot be decoded.
    pub fn dead_letters(
        &self,
        filter: &DeadLetterFilter,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.inner.database.with_db(|db| {
            let mut found = Vec::new();
            for item in db.scan_prefix(keys::DEAD_LETTER_PREFIX) {
                if found.len() == limit {
                    break;
                }
                let (key, value) = item?;
                let sequence = keys::trailing_id(&key).expect("dead letter keys end in an id");
                let header: DeadLetterHeader = framed::decode_header(&key, &value)?;
                if filter.matches(sequence, &header) {
                    let (header, body) = framed::decode(&key, &value)?;
                    found.push(DeadLetter {
                        sequence,
                        header,
                        body,
                    });
                }
            }
            Ok(found)
        })
    }

    /// How many dead letters `filter` matches.
    ///
    /// # Errors
    ///
    /// As [`Store::dead_letters`].
    pub fn dead_letter_count(&self, filter: &DeadLetterFilter) -> Result<usize, StoreError> {
        self.inner.database.with_db(|db| {
            let mut count = 0;
            for item in db.scan_prefix(keys::DEAD_LETTER_PREFIX) {
                let (key, value) = item?;
                let sequence = keys::trailing_id(&key).expect("dead letter keys end in an id");
                let header: DeadLetterHeader = framed::decode_header(&key, &value)?;
                count += usize::from(filter.matches(sequence, &header));
            }
            Ok(count)
        })
    }

    /// Puts the dead letters `filter` matches back where they failed, each
    /// in one atomic write with its removal, so each is delivered once more
    /// and no more: a destination's entry goes back to that destination's
    /// queue with its attempts reset; a pipeline failure goes back to the
    /// channel's inbound queue, in the partition `place` gives it. Letters
    /// `place` gives none stay (the engine's: those whose channel or
    /// destination is no longer configured, so that no worker would take
    /// them). Returns what was requeued, for waking the workers.
    ///
    /// # Errors
    ///
    /// As [`Store::dead_letters`]; entries requeued before the error stay
    /// requeued.
    pub fn reprocess_dead_letters(
        &self,
        filter: &DeadLetterFilter,
        place: impl Fn(&DeadLetter) -> Option<u32>,
    ) -> Result<Vec<Requeued>, StoreError> {
        let letters = self.dead_letters(filter, usize::MAX)?;
        let mut requeued = Vec::with_capacity(letters.len());
        for letter in letters {
            let Some(partition) = place(&letter) else {
                continue;
            };
            let header = &letter.header;
            let database = &self.inner.database;
            self.progress(|db| {
                let mut batch = sled::Batch::default();
                batch.remove(keys::dead_letter(letter.sequence));
                let Some(destination) = &header.destination else {
                    let queues = &database.queues;
                    return requeue_inbound(db, queues, batch, header, partition, &letter.body);
                };
                let entry = OutboundHeader::new(
                    header.message_id,
                    crate::hl7_input::now_unix_ms(),
                    header.control_id.clone(),
                    header.message_type.clone(),
                    header.content_type.clone(),
                );
                let key = keys::outbound_entry(
                    &header.channel,
                    destination,
                    partition,
                    database.ids.next(db)?,
                );
                batch.insert(key, framed::encode(&entry, &letter.body));
                Ok(db.apply_batch(batch)?)
            })?;
            requeued.push(Requeued {
                sequence: letter.sequence,
                channel: header.channel.clone(),
                destination: header.destination.clone(),
                partition,
            });
        }
        self.flush_now()?;
        Ok(requeued)
    }

    /// Deletes the dead letters `filter` matches; returns how many.
    ///
    /// # Errors
    ///
    /// As [`Store::dead_letters`].
    pub fn purge_dead_letters(&self, filter: &DeadLetterFilter) -> Result<usize, StoreError> {
        let sequences: Vec<u64> = self
            .dead_letters(filter, usize::MAX)?
            .iter()
            .map(|letter| letter.sequence)
            .collect();
        self.write_progress(|_| {
            let mut batch = sled::Batch::default();
            for sequence in &sequences {
                batch.remove(keys::dead_letter(*sequence));
            }
            Ok(batch)
        })?;
        self.flush_now()?;
        Ok(sequences.len())
    }

    /// Flushes sled now.
    pub(super) fn flush_now(&self) -> Result<(), StoreError> {
        self.inner.database.with_db(|db| Ok(db.flush().map(drop)?))
    }
}

/// Queues a pipeline failure's message again under its id in `partition`,
/// with `batch` (the dead letter's removal) in one atomic write: its status becomes
/// requeued, which keeps it queued across a restart, and its record is
/// stored again first if the pruner removed it.
fn requeue_inbound(
    db: &sled::Db,
    queues: &InboundQueues,
    mut batch: sled::Batch,
    header: &DeadLetterHeader,
    partition: u32,
    raw: &[u8],
) -> Result<(), StoreError> {
    let id = header.message_id;
    if !db.contains_key(keys::message(id))? {
        let message = NewMessage {
            channel: &header.channel,
            partition: header.partition,
            raw,
            received_at_ms: header.first_failure_ms,
            peer: None,
            peer_certificate: None,
            control_id: header.control_id.as_deref(),
            message_type: header.message_type.as_deref(),
            dedupe_key: None,
            dedupe_window: None,
        };
        batch.insert(keys::message(id), record::encode(&message));
    }
    let now_ms = crate::hl7_input::now_unix_ms();
    // A status that does not decode is replaced, as if there were none.
    let status = match status::read(db, id) {
        Err(StoreError::Corrupt { .. }) => None,
        read => read?,
    };
    let status = match status {
        Some(status) => MessageStatus {
            state: MessageState::Requeued,
            updated_at_ms: now_ms,
            ..status
        },
        None => MessageStatus {
            attempts: header.attempts,
            error: Some(header.error.clone()),
            ..MessageStatus::new(MessageState::Requeued, now_ms)
        },
    };
    batch.insert(keys::status(id), status::encode(&status));
    queues.requeue(db, batch, &header.channel, partition, id)
}
