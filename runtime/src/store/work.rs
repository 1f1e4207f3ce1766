//! The store's side of the pipeline and the destinations: reading a
//! partition's inbound messages, handing their outputs to destination
//! queues, recording what happened, retrying, dead-lettering and handing
//! messages to other channels.
//!
//! These writes go to sled only, not to the write-ahead log. Each is one
//! atomic sled batch, made durable by the checkpointer's next flush (within
//! about a second, see `background.rs`). A crash before that flush rolls the
//! batch back as a whole, so the work is done again: after a crash a message
//! may be processed or delivered twice (at least once), never lost.

use super::dead_letter::{DeadLetterHeader, DeadLetterReason};
use super::error::StoreError;
use super::outbound::{NewOutbound, OutboundEntry, OutboundHeader};
use super::record::{self, NewMessage, StoredMessage};
use super::status::MessageStatus;
use super::{Store, framed, keys};

/// What the pipeline did with one inbound message.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The inbound message.
    pub message_id: u64,
    /// When it was received, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// Its MSH-10, copied onto its outputs.
    pub control_id: Option<String>,
    /// Its MSH-9, copied onto its outputs.
    pub message_type: Option<String>,
    /// What happened, for the admin API and `after_transform` ACKs.
    pub status: MessageStatus,
    /// Outputs for the destinations.
    pub outputs: Vec<NewOutbound>,
    /// A dead letter with its payload, when it failed for good.
    pub dead_letter: Option<(DeadLetterHeader, Vec<u8>)>,
    /// Whether it leaves the inbound queue (false while it is retried).
    pub dequeue: bool,
}

impl Store {
    /// Up to `limit` messages of one inbound queue, oldest first, leaving
    /// out those `skip` names (messages parked for a retry).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// if a record cannot be decoded.
    pub fn pending(
        &self,
        channel: &str,
        partition: u32,
        limit: usize,
        skip: impl Fn(u64) -> bool,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let prefix = keys::queue_prefix(channel, partition);
        self.inner.database.with_db(|db| {
            let mut messages = Vec::new();
            for key in db.scan_prefix(&prefix).keys() {
                let id = keys::trailing_id(&key?).expect("queue keys end in an id");
                if skip(id) {
                    continue;
                }
                match db.get(keys::message(id))? {
                    Some(record) => messages.push(record::decode(id, &record)?),
                    None => {
                        return Err(StoreError::Corrupt {
                            key: format!("m/{id}"),
                            reason: "queued but not stored".into(),
                        });
                    }
                }
                if messages.len() == limit {
                    break;
                }
            }
            Ok(messages)
        })
    }

    /// Records the pipeline's results for messages of one partition in one
    /// atomic write: statuses, outputs queued for their destinations, dead
    /// letters, and the inbound entries removed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed; nothing was written.
    pub fn complete(
        &self,
        channel: &str,
        partition: u32,
        processed: &[Processed],
    ) -> Result<(), StoreError> {
        self.write_progress(|db| {
            let mut batch = sled::Batch::default();
            for item in processed {
                if item.dequeue {
                    batch.remove(keys::queue_entry(channel, partition, item.message_id));
                }
                for output in &item.outputs {
                    let header = OutboundHeader::new(
                        item.message_id,
                        item.received_at_ms,
                        item.control_id.clone(),
                        item.message_type.clone(),
                        output.content_type.clone(),
                    );
                    let key = keys::outbound_entry(
                        channel,
                        &output.destination,
                        partition,
                        db.generate_id()?,
                    );
                    batch.insert(key, framed::encode(&header, &output.body));
                }
                let status = serde_json::to_vec(&item.status).expect("statuses serialize");
                batch.insert(keys::status(item.message_id), status);
                if let Some((header, body)) = &item.dead_letter {
                    let key = keys::dead_letter(db.generate_id()?);
                    batch.insert(key, framed::encode(header, body));
                }
            }
            Ok(batch)
        })
    }

    /// The processing record of message `id`, once the pipeline has run.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// if the record cannot be decoded.
    pub fn status(&self, id: u64) -> Result<Option<MessageStatus>, StoreError> {
        let key = keys::status(id);
        let value = self.inner.database.with_db(|db| Ok(db.get(&key)?))?;
        value
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                    key: keys::describe(&key),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    /// Up to `limit` entries of one destination queue, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// if an entry cannot be decoded.
    pub fn outbound(
        &self,
        channel: &str,
        destination: &str,
        partition: u32,
        limit: usize,
    ) -> Result<Vec<OutboundEntry>, StoreError> {
        let prefix = keys::outbound_prefix(channel, destination, partition);
        self.inner.database.with_db(|db| {
            db.scan_prefix(&prefix)
                .take(limit)
                .map(|item| {
                    let (key, value) = item?;
                    let (header, body) = framed::decode(&key, &value)?;
                    Ok(OutboundEntry {
                        channel: channel.to_owned(),
                        destination: destination.to_owned(),
                        partition,
                        sequence: keys::trailing_id(&key).expect("outbound keys end in an id"),
                        header,
                        body,
                    })
                })
                .collect()
        })
    }

    /// How many entries wait in one destination queue.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed.
    pub fn outbound_depth(
        &self,
        channel: &str,
        destination: &str,
        partition: u32,
    ) -> Result<usize, StoreError> {
        let prefix = keys::outbound_prefix(channel, destination, partition);
        self.inner
            .database
            .with_db(|db| Ok(db.scan_prefix(&prefix).keys().count()))
    }

    /// Removes a delivered entry from its queue.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed.
    pub fn delivered(&self, entry: &OutboundEntry) -> Result<(), StoreError> {
        self.write_progress(|_| {
            let mut batch = sled::Batch::default();
            batch.remove(outbound_key(entry));
            Ok(batch)
        })
    }

    /// Writes back an entry whose attempts changed, so a restart resumes its
    /// retries where they were.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed.
    pub fn retry_later(&self, entry: &OutboundEntry) -> Result<(), StoreError> {
        self.write_progress(|_| {
            let mut batch = sled::Batch::default();
            batch.insert(
                outbound_key(entry),
                framed::encode(&entry.header, &entry.body),
            );
            Ok(batch)
        })
    }

    /// Moves an entry from its queue to the dead-letter queue in one atomic
    /// write; `entry.header` holds its attempts. Returns the dead letter's
    /// sequence.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed; nothing was written.
    pub fn dead_letter_outbound(
        &self,
        entry: &OutboundEntry,
        reason: DeadLetterReason,
        error: &str,
        now_ms: u64,
    ) -> Result<u64, StoreError> {
        let header = &entry.header;
        let dead = DeadLetterHeader {
            channel: entry.channel.clone(),
            destination: Some(entry.destination.clone()),
            partition: entry.partition,
            message_id: header.message_id,
            control_id: header.control_id.clone(),
            message_type: header.message_type.clone(),
            content_type: header.content_type.clone(),
            reason,
            error: error.to_owned(),
            attempts: header.attempts,
            first_failure_ms: header.first_failure_ms.unwrap_or(now_ms),
            last_failure_ms: header.last_failure_ms.unwrap_or(now_ms),
        };
        let mut sequence = 0;
        self.write_progress(|db| {
            sequence = db.generate_id()?;
            let mut batch = sled::Batch::default();
            batch.remove(outbound_key(entry));
            batch.insert(
                keys::dead_letter(sequence),
                framed::encode(&dead, &entry.body),
            );
            Ok(batch)
        })?;
        Ok(sequence)
    }

    /// Moves an entry into another channel's inbound queue, as a new message
    /// of that channel, in one atomic write. Returns the new message's id.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed; nothing was written.
    pub fn hand_off(
        &self,
        entry: &OutboundEntry,
        to_channel: &str,
        to_partition: u32,
        now_ms: u64,
    ) -> Result<u64, StoreError> {
        let peer = format!("channel:{}", entry.channel);
        let message = NewMessage {
            channel: to_channel,
            partition: to_partition,
            raw: &entry.body,
            received_at_ms: now_ms,
            peer: Some(&peer),
            control_id: entry.header.control_id.as_deref(),
            message_type: entry.header.message_type.as_deref(),
            dedupe_key: None,
        };
        let record = record::encode(&message);
        // Under the target channel's lock, like an ingest: its queue stays
        // in id order.
        let _channel = self
            .inner
            .locks
            .stripe(to_channel)
            .lock()
            .expect("lock not poisoned");
        let mut id = 0;
        self.write_progress(|db| {
            id = db.generate_id()?;
            let mut batch = sled::Batch::default();
            batch.remove(outbound_key(entry));
            batch.insert(keys::message(id), record.as_slice());
            batch.insert(keys::queue_entry(to_channel, to_partition, id), &[]);
            Ok(batch)
        })?;
        Ok(id)
    }

    /// Applies one batch of pipeline or delivery progress and marks sled for
    /// the checkpointer's next flush.
    pub(super) fn write_progress(
        &self,
        build: impl FnOnce(&sled::Db) -> Result<sled::Batch, StoreError>,
    ) -> Result<(), StoreError> {
        let database = &self.inner.database;
        database.with_db(|db| {
            let batch = build(db)?;
            db.apply_batch(batch)?;
            Ok(())
        })?;
        database.mark_dirty();
        Ok(())
    }
}

fn outbound_key(entry: &OutboundEntry) -> Vec<u8> {
    keys::outbound_entry(
        &entry.channel,
        &entry.destination,
        entry.partition,
        entry.sequence,
    )
}
