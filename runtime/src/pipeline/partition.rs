//! A partition's pipeline worker: takes the partition's inbound messages
//! in order, runs them through the plugins, routes the outputs to the
//! destination queues and records each message's result, a batch at a
//! time in one atomic store write.
//!
//! A message a plugin wants retried stays in the inbound queue. In ordered
//! mode it blocks the partition until its next attempt; in unordered mode
//! it is parked and the messages behind it go on. Attempts are counted in
//! the message's status record, so they survive a restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::chain::{Chain, Verdict};
use super::channel::ChannelPipeline;
use super::events::{DeadLettered, MessageProcessed};
use super::router::{Origin, route};
use super::wakers::{ChannelWakers, IDLE_RECHECK, woken};
use crate::config::Ordering;
use crate::hl7_input::{InboundMessage, now_unix_ms};
use crate::plugin::{Disposition, FHIR_JSON_CONTENT_TYPE, HL7_V2_CONTENT_TYPE, Message, Metadata};
use crate::store::{
    DeadLetterHeader, DeadLetterReason, FailureLocation, MessageState, MessageStatus, Payload,
    Processed, StoreError, StoredMessage,
};

/// Messages taken from the inbound queue per store write.
const BATCH: usize = 64;

/// How long to wait before trying the store again after it failed.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// One partition's worker.
pub struct PartitionWorker {
    channel: Arc<ChannelPipeline>,
    /// The channel's wake-up signals.
    signals: Arc<ChannelWakers>,
    partition: u32,
    chain: Option<Chain>,
    /// The stages' generation `chain` was built from.
    generation: u64,
    /// Messages waiting for their next attempt, by id.
    parked: HashMap<u64, Instant>,
}

/// What one step found.
enum Step {
    /// Messages were processed; look again at once.
    Worked,
    /// Nothing to do until woken or until the given time.
    Idle(Option<Instant>),
}

impl PartitionWorker {
    /// A worker for `partition` of `channel`.
    pub fn new(channel: Arc<ChannelPipeline>, partition: u32) -> Self {
        let (generation, stages) = channel.stages.snapshot();
        PartitionWorker {
            signals: channel.wakers.channel(channel.name()),
            channel,
            partition,
            chain: Some(Chain::new(&stages)),
            generation,
            parked: HashMap::new(),
        }
    }

    /// Processes messages until the engine shuts down; between batches,
    /// waits while the channel is paused or stopped.
    pub async fn run(mut self) {
        let channel = Arc::clone(&self.channel);
        let signals = Arc::clone(&self.signals);
        let wake = signals.inbound(self.partition);
        loop {
            if !channel.runs().await {
                return;
            }
            let until = match self.step().await {
                Ok(Step::Worked) => continue,
                Ok(Step::Idle(until)) => until,
                Err(error) => {
                    tracing::error!(channel = channel.name(), partition = self.partition, %error, "Pipeline paused: the store failed.");
                    Some(Instant::now() + STORE_RETRY)
                }
            };
            let sleep = until.map_or(IDLE_RECHECK, |t| {
                t.saturating_duration_since(Instant::now())
                    .min(IDLE_RECHECK)
            });
            tokio::select! {
                () = woken(wake, !channel.config.ack_mode.sender_waits()) => {}
                () = tokio::time::sleep(sleep) => {}
                () = channel.shutdown.cancelled() => return,
            }
        }
    }

    /// Processes one batch on a blocking thread (plugins and sled are
    /// synchronous), then wakes whoever the results concern.
    async fn step(&mut self) -> Result<Step, StoreError> {
        // A swapped stage takes effect here, between batches: the batch
        // before ran wholly on the versions it started with.
        if self.channel.stages.generation() != self.generation {
            let (generation, stages) = self.channel.stages.snapshot();
            self.chain = Some(Chain::new(&stages));
            self.generation = generation;
        }
        let chain = self
            .chain
            .take()
            .expect("the chain is back after every step");
        let channel = Arc::clone(&self.channel);
        let partition = self.partition;
        let mut parked = std::mem::take(&mut self.parked);
        let (chain, parked, result) = tokio::task::spawn_blocking(move || {
            let mut chain = chain;
            let result = process_batch(&channel, partition, &mut chain, &mut parked);
            (chain, parked, result)
        })
        .await
        .expect("pipeline thread panicked");
        self.chain = Some(chain);
        self.parked = parked;
        let Batch {
            processed,
            next,
            drained,
        } = result?;
        if processed.is_empty() {
            return Ok(Step::Idle(next));
        }
        let channel = &self.channel;
        let mut dead_lettered = false;
        for item in &processed {
            for output in &item.outputs {
                let signal = self.signals.outbound(&output.destination, self.partition);
                signal.notify_one();
            }
            dead_lettered |= item.dead_letter.is_some();
        }
        self.signals.processed().notify_waiters();
        if dead_lettered {
            channel.check_dead_letters();
        }
        Ok(match next {
            Some(blocked_until) => Step::Idle(Some(blocked_until)),
            // The queue held less than a batch: whatever arrived since woke
            // the worker (the wake-up waits), so waiting saves a round on
            // the blocking pool that would find nothing.
            None if drained => Step::Idle(self.parked.values().min().copied()),
            None => Step::Worked,
        })
    }
}

/// What one batch did.
struct Batch {
    /// What was recorded.
    processed: Vec<Processed>,
    /// When to look again, when the partition must wait (ordered mode, a
    /// retry at its head) or only parked messages are left.
    next: Option<Instant>,
    /// Whether the queue held less than a batch (parked messages aside).
    drained: bool,
}

/// Processes up to [`BATCH`] messages and records them.
fn process_batch(
    channel: &ChannelPipeline,
    partition: u32,
    chain: &mut Chain,
    parked: &mut HashMap<u64, Instant>,
) -> Result<Batch, StoreError> {
    let ordered = channel.config.ordering == Ordering::Ordered;
    let now = Instant::now();
    let not_due = |id: u64| parked.get(&id).is_some_and(|due| *due > now);
    let skip = |id: u64| !ordered && not_due(id);
    let messages = channel
        .store
        .pending(channel.name(), partition, BATCH, skip)?;
    let drained = messages.len() < BATCH;
    let waiting = |next| Batch {
        processed: Vec::new(),
        next,
        drained,
    };
    let Some(head) = messages.first() else {
        return Ok(waiting(parked.values().min().copied()));
    };
    if ordered && not_due(head.id) {
        return Ok(waiting(parked.get(&head.id).copied()));
    }
    let mut processed = Vec::with_capacity(messages.len());
    let mut blocked = None;
    for message in &messages {
        let item = process(channel, chain, message)?;
        if item.status.state == MessageState::Retrying {
            let delay = channel
                .config
                .retry
                .delay(item.status.attempts, jitter_sample());
            let due = Instant::now() + delay;
            parked.insert(message.id, due);
            if ordered {
                blocked = Some(due);
                processed.push(item);
                break;
            }
        } else {
            parked.remove(&message.id);
        }
        processed.push(item);
    }
    channel
        .store
        .complete(channel.name(), partition, &processed)?;
    for item in &processed {
        MessageProcessed {
            channel: channel.name(),
            message_id: item.message_id,
            control_id: item.control_id.as_deref(),
            state: item.status.state,
            routed: item.outputs.len(),
        }
        .emit(&channel.metrics);
        if let Some((letter, _)) = &item.dead_letter {
            DeadLettered {
                channel: channel.name(),
                destination: None,
                control_id: letter.control_id.as_deref(),
                reason: letter.reason,
                error: &letter.error,
            }
            .emit(&channel.metrics);
        }
    }
    Ok(Batch {
        processed,
        next: blocked,
        drained,
    })
}

/// What routes filter `message` by: its type and trigger event (as stored)
/// and its sending facility (MSH-4.1).
fn origin<'a>(message: &'a StoredMessage, sending_facility: Option<&'a str>) -> Origin<'a> {
    let code_and_trigger = message
        .message_type
        .as_deref()
        .map(|t| t.split_once('^').unwrap_or((t, "")));
    Origin {
        message_code: code_and_trigger.map(|(code, _)| code),
        trigger_event: code_and_trigger.map(|(_, trigger)| trigger),
        sending_facility,
    }
}

/// Runs one message through the chain and decides what happens to it.
fn process(
    channel: &ChannelPipeline,
    chain: &mut Chain,
    message: &StoredMessage,
) -> Result<Processed, StoreError> {
    let mut status = MessageStatus::new(MessageState::Processed, now_unix_ms());
    let mut item = unrouted(message, status.clone());
    if chain.is_empty() {
        // No plugins: the message goes on exactly as received, routed by
        // its header alone.
        let header = hl7v2::Message::parse_header(&message.raw).ok();
        let facility = header.as_ref().and_then(|h| h.get("MSH-4.1"));
        let outputs = vec![(HL7_V2_CONTENT_TYPE.to_string(), Payload::Message)];
        item.outputs = route(
            &channel.routes,
            origin(message, facility.as_deref()),
            outputs,
        );
        item.status.routed_to = destinations(&item);
        return Ok(item);
    }
    let inbound = InboundMessage::parse(&message.raw).ok();
    let facility = inbound.as_ref().and_then(|m| m.sending_facility.clone());
    let origin = origin(message, facility.as_deref());
    let input = match inbound {
        Some(inbound) => inbound.message,
        None => match as_other_content(&message.raw) {
            Some(input) => input,
            None => {
                status.error = Some("the stored message is neither HL7 v2 nor JSON".into());
                return Ok(dead_letter(
                    item,
                    status,
                    message,
                    DeadLetterReason::PluginRejected,
                    1,
                ));
            }
        },
    };
    let metadata = Metadata {
        channel: channel.name().to_string(),
        received_at_unix_ms: message.received_at_ms,
        peer_address: message.peer.clone(),
        peer_certificate_name: message.peer_certificate.clone(),
        control_id: message.control_id.clone(),
    };
    let result = chain.run(input, &metadata, &channel.metrics);
    status.stages = result.stages;
    match result.verdict {
        Verdict::Forward(outputs) => {
            let outputs = outputs
                .into_iter()
                .map(|Message { content_type, body }| {
                    // A plugin that passed the message on unchanged: the
                    // entries refer to it rather than copy it.
                    let payload = if body.as_bytes() == message.raw.as_slice() {
                        Payload::Message
                    } else {
                        Payload::Bytes(body.into_bytes())
                    };
                    (content_type, payload)
                })
                .collect();
            item.outputs = route(&channel.routes, origin, outputs);
            status.routed_to = destinations(&item);
            item.status = status;
            Ok(item)
        }
        Verdict::Filtered(reason) => {
            status.state = MessageState::Filtered;
            status.error = Some(reason);
            item.status = status;
            Ok(item)
        }
        Verdict::Failed { plugin, failure } => {
            status.error = Some(format!("plugin {plugin}: {}", failure.text));
            status.location = failure.location.map(|location| FailureLocation {
                segment: location.segment,
                field: location.field,
            });
            let attempts = previous_attempts(channel, message.id)? + 1;
            match failure.disposition {
                Disposition::Reject => Ok(dead_letter(
                    item,
                    status,
                    message,
                    DeadLetterReason::PluginRejected,
                    attempts,
                )),
                Disposition::Retry if channel.config.retry.allows_retry(attempts) => {
                    status.state = MessageState::Retrying;
                    status.attempts = attempts;
                    item.status = status;
                    Ok(item)
                }
                Disposition::Retry => Ok(dead_letter(
                    item,
                    status,
                    message,
                    DeadLetterReason::PluginRetriesExhausted,
                    attempts,
                )),
            }
        }
    }
}

/// A message that is not HL7 v2 (handed over from another channel's
/// pipeline, for example FHIR JSON).
fn as_other_content(raw: &[u8]) -> Option<Message> {
    let text = std::str::from_utf8(raw).ok()?;
    text.trim_start().starts_with(['{', '[']).then(|| Message {
        content_type: FHIR_JSON_CONTENT_TYPE.into(),
        body: text.to_string(),
    })
}

/// Pipeline attempts already made, from the message's status record.
fn previous_attempts(channel: &ChannelPipeline, id: u64) -> Result<u32, StoreError> {
    Ok(channel
        .store
        .status(id)?
        .filter(|status| status.state == MessageState::Retrying)
        .map_or(0, |status| status.attempts))
}

/// `message`'s result with `status`, before anything is routed.
pub(super) fn unrouted(message: &StoredMessage, status: MessageStatus) -> Processed {
    Processed {
        message_id: message.id,
        received_at_ms: message.received_at_ms,
        control_id: message.control_id.clone(),
        message_type: message.message_type.clone(),
        status,
        outputs: Vec::new(),
        dead_letter: None,
    }
}

/// `item` turned into `message`'s dead letter for `reason`, with the
/// error `status` holds.
pub(super) fn dead_letter(
    mut item: Processed,
    mut status: MessageStatus,
    message: &StoredMessage,
    reason: DeadLetterReason,
    attempts: u32,
) -> Processed {
    let now = now_unix_ms();
    status.state = MessageState::DeadLettered;
    status.attempts = attempts;
    let header = DeadLetterHeader {
        channel: message.channel.clone(),
        destination: None,
        partition: message.partition,
        message_id: message.id,
        control_id: message.control_id.clone(),
        message_type: message.message_type.clone(),
        content_type: HL7_V2_CONTENT_TYPE.into(),
        reason,
        error: status.error.clone().unwrap_or_default(),
        attempts,
        first_failure_ms: now,
        last_failure_ms: now,
    };
    item.dead_letter = Some((header, message.raw.clone()));
    item.status = status;
    item
}

fn destinations(item: &Processed) -> Vec<String> {
    let mut names: Vec<String> = item.outputs.iter().map(|o| o.destination.clone()).collect();
    names.dedup();
    names
}

/// A uniform sample in `[0, 1)` for retry jitter.
pub fn jitter_sample() -> f64 {
    let bits = getrandom::u64().unwrap_or(0) >> 11;
    bits as f64 / (1u64 << 53) as f64
}
