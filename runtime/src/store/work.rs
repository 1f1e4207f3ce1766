//! The store's side of the pipeline and the destinations: reading a
//! partition's inbound messages, handing their outputs to destination
//! queues, recording what happened, retrying, dead-lettering and handing
//! messages to other channels.
//!
//! These writes go to sled only, not to the write-ahead log (except a hand
//! off, which stores a new message), and are made durable by the
//! checkpointer's next flush (within about a second, see `background.rs`).
//! Outbound entries that deliver the message as received are held in memory
//! instead, with their places recorded in the message's status
//! (`held_outbound.rs`); this module's reads merge them with sled's.
//! The frequent ones are plain sled writes in a deliberate order, the write
//! that ends the work last (a message's final status, which takes it out of
//! its inbound queue, or removing an outbound entry): sled
//! recovers a prefix of its log after a crash, so a crash either keeps that
//! last write and everything before it, or loses it and the work is done
//! again. Rare ones are atomic sled batches. Either way, after a crash a
//! message may be processed or delivered twice (at least once), never lost.
//! (Plain writes because sled writes and syncs its log buffer for every
//! batch, which would cost a disk write per pipeline batch and delivery.)

use super::database::Database;
use super::dead_letter::{DeadLetterHeader, DeadLetterReason};
use super::dedupe::DedupeKey;
use super::error::StoreError;
use super::held_outbound::HeldOutput;
use super::outbound::{NewOutbound, OutboundEntry, OutboundHeader, Payload};
use super::record::{self, NewMessage, StoredMessage};
use super::status::{self, MessageStatus};
use super::{Ingested, Store, framed, keys};

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
        let database = &self.inner.database;
        database.with_indexed_db(|db| {
            let ids = database.queues.first(channel, partition, limit, skip);
            let mut messages = Vec::with_capacity(ids.len());
            for id in ids {
                match database.recent.read(db, id)? {
                    Some(record) => {
                        // Where it waits: a record names the partition it
                        // was stored in, before any repartitioning.
                        let mut message = record::decode(id, &record)?;
                        message.partition = partition;
                        messages.push(message);
                    }
                    None => {
                        return Err(StoreError::Corrupt {
                            key: format!("m/{id}"),
                            reason: "queued but not stored".into(),
                        });
                    }
                }
            }
            Ok(messages)
        })
    }

    /// Records the pipeline's results for messages of one partition:
    /// per message its outputs queued for their destinations, its dead
    /// letter, and last its status, which takes it out of its inbound queue
    /// unless it is to be retried. Only for messages [`Store::pending`]
    /// returned: a message acknowledged a moment ago may not be queued yet,
    /// and would be queued after this took it out.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed; the messages whose
    /// statuses were not written yet are processed again, and may then
    /// queue their outputs twice.
    pub fn complete(
        &self,
        channel: &str,
        partition: u32,
        processed: &[Processed],
    ) -> Result<(), StoreError> {
        let database = &self.inner.database;
        self.progress(|db| {
            for item in processed {
                let mut held = Vec::new();
                for output in &item.outputs {
                    let mut header = OutboundHeader::new(
                        item.message_id,
                        item.received_at_ms,
                        item.control_id.clone(),
                        item.message_type.clone(),
                        output.content_type.clone(),
                    );
                    header.body_in_message = output.payload == Payload::Message;
                    let sequence = database.ids.next(db)?;
                    let key =
                        keys::outbound_entry(channel, &output.destination, partition, sequence);
                    if header.body_in_message && database.held.hold(&key, &header) {
                        held.push(HeldOutput {
                            destination: output.destination.clone(),
                            partition,
                            sequence,
                            content_type: output.content_type.clone(),
                        });
                        continue;
                    }
                    let body = match &output.payload {
                        Payload::Message => &[][..],
                        Payload::Bytes(bytes) => bytes.as_slice(),
                    };
                    db.insert(key, framed::encode(&header, body))?;
                }
                if let Some((header, body)) = &item.dead_letter {
                    let key = keys::dead_letter(database.ids.next(db)?);
                    db.insert(key, framed::encode(header, body))?;
                }
                let status = status::encode_with_held(&item.status, &held);
                db.insert(keys::status(item.message_id), status)?;
                if !item.status.state.is_queued() {
                    database
                        .queues
                        .remove(db, channel, partition, item.message_id)?;
                }
            }
            Ok(())
        })
    }

    /// The processing record of message `id`, once the pipeline has run.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// if the record cannot be decoded.
    pub fn status(&self, id: u64) -> Result<Option<MessageStatus>, StoreError> {
        self.inner.database.with_db(|db| status::read(db, id))
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
        let database = &self.inner.database;
        database.with_db(|db| {
            // Held entries first: one spilled meanwhile is then in both
            // lists, and the merge keeps one copy.
            let held = database.held.range(&prefix, limit);
            let mut stored = Vec::new();
            for item in db.scan_prefix(&prefix).take(limit) {
                let (key, value) = item?;
                let (header, body): (OutboundHeader, _) = framed::decode(&key, &value)?;
                stored.push((key.to_vec(), header, body));
            }
            let held = held
                .into_iter()
                .map(|(key, header)| (key, header, Vec::new()));
            let mut merged: Vec<_> = stored.into_iter().chain(held).collect();
            merged.sort_by(|a, b| a.0.cmp(&b.0));
            merged.dedup_by(|a, b| a.0 == b.0);
            merged.truncate(limit);
            merged
                .into_iter()
                .map(|(key, header, body)| {
                    let body = if header.body_in_message {
                        message_body(database, db, header.message_id, &key)?
                    } else {
                        body
                    };
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

    /// Every channel partition with inbound messages queued.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed.
    pub fn inbound_queues(&self) -> Result<Vec<(String, u32)>, StoreError> {
        let database = &self.inner.database;
        database.with_indexed_db(|_| Ok(database.queues.nonempty()))
    }

    /// Every destination queue (channel, destination, partition) with
    /// entries waiting.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// for a key that does not decode.
    pub fn outbound_queues(&self) -> Result<Vec<(String, String, u32)>, StoreError> {
        let database = &self.inner.database;
        database.with_db(|db| {
            let mut found: Vec<(String, String, u32)> = Vec::new();
            let stored = db.scan_prefix(keys::OUTBOUND_PREFIX).keys();
            let held = database.held.keys().into_iter().map(Ok);
            for key in stored.map(|key| key.map(|k| k.to_vec())).chain(held) {
                let key = key?;
                let queue = keys::outbound_queue(&key).ok_or_else(|| StoreError::Corrupt {
                    key: keys::describe(&key),
                    reason: "not an outbound entry's key".into(),
                })?;
                if found.last() != Some(&queue) {
                    found.push(queue);
                }
            }
            found.sort();
            found.dedup();
            Ok(found)
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
        let database = &self.inner.database;
        database
            .with_db(|db| Ok(db.scan_prefix(&prefix).keys().count() + database.held.count(&prefix)))
    }

    /// Whether one destination's queues still hold an entry of message
    /// `message_id` (a scan of the queues' headers, every partition: the
    /// message's record may name another than the one its entry waits in).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// if an entry cannot be decoded.
    pub fn awaits_delivery(
        &self,
        channel: &str,
        destination: &str,
        message_id: u64,
    ) -> Result<bool, StoreError> {
        let prefix = keys::destination_prefix(channel, destination);
        let database = &self.inner.database;
        if database.held.holds_message(&prefix, message_id) {
            return Ok(true);
        }
        database.with_db(|db| {
            for item in db.scan_prefix(&prefix) {
                let (key, value) = item?;
                let header: OutboundHeader = framed::decode_header(&key, &value)?;
                if header.message_id == message_id {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    /// Removes a delivered entry from its queue.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed.
    pub fn delivered(&self, entry: &OutboundEntry) -> Result<(), StoreError> {
        let key = outbound_key(entry);
        if self.inner.database.held.release(&key) {
            return Ok(());
        }
        self.progress(|db| Ok(db.remove(key).map(drop)?))
    }

    /// Writes back an entry whose attempts changed, so a restart resumes its
    /// retries where they were.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed.
    pub fn retry_later(&self, entry: &OutboundEntry) -> Result<(), StoreError> {
        let key = outbound_key(entry);
        let value = framed::encode(&entry.header, entry.stored_payload());
        let held = &self.inner.database.held;
        held.moving(&key, || {
            self.progress(|db| {
                // The entry first: a crash between the two writes keeps it,
                // and its status then still names it, which opening the
                // store reads as held in sled.
                db.insert(&key[..], value)?;
                if entry.header.body_in_message
                    && let Some(status) =
                        status::without_held(db, entry.header.message_id, &[entry.sequence])?
                {
                    db.insert(keys::status(entry.header.message_id), status)?;
                }
                Ok(())
            })
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
        let key = outbound_key(entry);
        let database = &self.inner.database;
        database.held.moving(&key, || {
            let mut sequence = 0;
            self.write_progress(|db| {
                sequence = database.ids.next(db)?;
                let mut batch = sled::Batch::default();
                batch.remove(&key[..]);
                batch.insert(
                    keys::dead_letter(sequence),
                    framed::encode(&dead, &entry.body),
                );
                let id = entry.header.message_id;
                if entry.header.body_in_message
                    && let Some(status) = status::without_held(db, id, &[entry.sequence])?
                {
                    batch.insert(keys::status(id), status);
                }
                Ok(batch)
            })?;
            Ok(sequence)
        })
    }

    /// Moves entries into another channel's inbound queue, each as a new
    /// message of that channel in the partition paired with it, and returns
    /// the new messages' ids in order. The messages are stored like ingests
    /// sharing one log flush (durable when this returns), then the entries
    /// are removed; a crash in between hands them off again, which the
    /// target's dedupe index recognises (its key names the entry), so the
    /// target channel gets each once.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed; the entries stay
    /// queued.
    pub async fn hand_off(
        &self,
        entries: &[(&OutboundEntry, u32)],
        to_channel: &str,
        now_ms: u64,
    ) -> Result<Vec<u64>, StoreError> {
        let mut begun = Vec::with_capacity(entries.len());
        for &(entry, to_partition) in entries {
            let peer = format!("channel:{}", entry.channel);
            // "|" separates HL7 fields, so no sender's MSH-3 can look like this.
            let source = format!("|hand-off|{}", entry.channel);
            let sequence = entry.sequence.to_string();
            let message = NewMessage {
                channel: to_channel,
                partition: to_partition,
                raw: &entry.body,
                received_at_ms: now_ms,
                peer: Some(&peer),
                peer_certificate: None,
                control_id: entry.header.control_id.as_deref(),
                message_type: entry.header.message_type.as_deref(),
                dedupe_key: Some(DedupeKey {
                    sending_application: &source,
                    sending_facility: &entry.destination,
                    control_id: &sequence,
                }),
                dedupe_window: None,
            };
            begun.push(self.begin_ingest(&message)?);
        }
        let mut ids = Vec::with_capacity(begun.len());
        for pending in begun {
            ids.push(match self.finish_ingest(&pending).await? {
                Ingested::Stored { id } | Ingested::Reused { id, .. } => id,
                Ingested::Duplicate { original_id } => original_id,
            });
        }
        for (entry, _) in entries {
            self.delivered(entry)?;
        }
        Ok(ids)
    }

    /// Applies one atomic batch of progress (see the module docs).
    pub(super) fn write_progress(
        &self,
        build: impl FnOnce(&sled::Db) -> Result<sled::Batch, StoreError>,
    ) -> Result<(), StoreError> {
        self.progress(|db| Ok(db.apply_batch(build(db)?)?))
    }

    /// Makes progress writes with `write` and marks sled for the
    /// checkpointer's next flush.
    pub(super) fn progress(
        &self,
        write: impl FnOnce(&sled::Db) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let database = &self.inner.database;
        database.with_db(write)?;
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

/// The body of message `id`, which the outbound entry under `key` delivers
/// by reference.
///
/// # Errors
///
/// [`StoreError::Corrupt`] if the message's record is gone or does not
/// decode.
fn message_body(
    database: &Database,
    db: &sled::Db,
    id: u64,
    key: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let record = database
        .recent
        .read(db, id)?
        .ok_or_else(|| StoreError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: format!("the record of message {id}, which it delivers, is gone"),
        })?;
    Ok(record::route(id, &record)?.raw.to_vec())
}
