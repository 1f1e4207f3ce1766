//! A destination queue's delivery worker, one per destination and
//! partition: takes entries in order, makes one attempt each through the
//! destination's connector (or hands them to another channel), and settles
//! the result with the store: delivered entries leave the queue, failures
//! are retried with exponential backoff, rejections and exhausted retries
//! go to the dead-letter queue. MLLP and HTTP have one message in flight; a
//! file destination writes the due entries of a batch together, up to the
//! first failure, and a channel destination hands them over with one log
//! flush.
//!
//! In ordered mode an entry waiting for a retry blocks its partition; in
//! unordered mode it is parked and later entries go on. Attempts and the
//! next attempt's time are written to the entry, so a restart resumes the
//! retries where they were.
//!
//! When the channel stops (a reload replaces it, or the engine shuts
//! down), an attempt under way gets [`IN_FLIGHT_GRACE`] to end. A
//! destination that has not answered by then is left: the entry stays
//! queued, unsettled, and the channel's next start sends it again, as
//! after a crash. Without the limit a hung receiver would hold a reload
//! (and the channel's closed source) for its whole ACK timeout.

use std::sync::Arc;
use std::time::Duration;

use super::channel::ChannelPipeline;
use super::control::ChannelState;
use super::delivery_outcomes::DeliveryOutcome;
use super::events::{DeadLettered, DeliveryAttempted, DestinationConnected};
use super::partition::jitter_sample;
use super::wakers::{ChannelWakers, IDLE_RECHECK, woken};
use crate::config::{ChannelConfig, DestinationConfig, Ordering};
use crate::deliver::{Attempt, Connector, Delivery};
use crate::hl7_input::now_unix_ms;
use crate::metrics::{DestinationSeries, channel_and};
use crate::store::{DeadLetterReason, OutboundEntry, StoreError};
use crate::tls::TlsEndpoint;

/// Entries read from the queue at a time.
const BATCH: usize = 64;

/// How long to wait before trying the store again after it failed.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// How long a stopping channel waits for an attempt under way to end.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(5);

/// Where a destination's messages go.
pub enum Target {
    /// Out of the engine, through a connector.
    Connector(Box<Connector>),
    /// Into another channel's inbound queue.
    Channel(Arc<ChannelConfig>),
}

/// One destination queue's worker.
pub struct DeliveryWorker {
    channel: Arc<ChannelPipeline>,
    /// The channel's wake-up signals.
    signals: Arc<ChannelWakers>,
    destination: DestinationConfig,
    partition: u32,
    target: Target,
    /// Whether this is the channel's `ack_destination`, whose outcomes
    /// senders wait for.
    decides_acks: bool,
    /// The destination's TLS files, as the engine's reloads know them.
    tls_endpoint: TlsEndpoint,
    /// The generation of those files the connector was built from.
    tls_generation: u64,
    /// The series each delivery updates.
    series: DestinationSeries,
}

/// What became of one entry.
enum Settled {
    /// Delivered, dead-lettered or handed over: it left the queue.
    Done,
    /// To be attempted again at this time (ms since the Unix epoch).
    RetryAt(u64),
}

impl DeliveryWorker {
    /// A worker for `destination`'s queue of `partition`.
    pub fn new(
        channel: Arc<ChannelPipeline>,
        destination: DestinationConfig,
        partition: u32,
        target: Target,
    ) -> Self {
        let decides_acks = channel.config.ack_destination.as_ref() == Some(&destination.name);
        let tls_endpoint = TlsEndpoint::Destination {
            channel: channel.name().to_owned(),
            destination: destination.name.clone(),
        };
        let tls_generation = channel.tls.client_generation(&tls_endpoint);
        let series = channel
            .metrics
            .destination_series(channel.name(), &destination.name);
        DeliveryWorker {
            signals: channel.wakers.channel(channel.name()),
            channel,
            destination,
            partition,
            target,
            decides_acks,
            tls_endpoint,
            tls_generation,
            series,
        }
    }

    /// Delivers until the engine shuts down; between batches, waits while
    /// the channel is paused or stopped.
    pub async fn run(mut self) {
        let channel = Arc::clone(&self.channel);
        let signals = Arc::clone(&self.signals);
        let wake = signals.outbound(&self.destination.name, self.partition);
        loop {
            if !channel.runs().await {
                return;
            }
            self.follow_tls_reload();
            if let Target::Connector(connector) = &mut self.target {
                connector.close_if_idle();
            }
            let wait_until_ms = match self.pass().await {
                Ok(None) => continue,
                Ok(Some(until)) => until,
                Err(error) => {
                    tracing::error!(channel = channel.name(), destination = %self.destination.name, %error, "Delivery paused: the store failed.");
                    now_unix_ms() + STORE_RETRY.as_millis() as u64
                }
            };
            let sleep = Duration::from_millis(wait_until_ms.saturating_sub(now_unix_ms()))
                .min(IDLE_RECHECK);
            tokio::select! {
                () = woken(wake, !channel.config.ack_mode.sender_waits()) => {}
                () = tokio::time::sleep(sleep) => {}
                () = channel.shutdown.cancelled() => return,
            }
        }
    }

    /// After a TLS reload that found the destination's files changed,
    /// builds the connector again, so that renewed ones are used from the
    /// next connection on; a build that fails keeps the connector it had.
    fn follow_tls_reload(&mut self) {
        let generation = self.channel.tls.client_generation(&self.tls_endpoint);
        if generation == self.tls_generation {
            return;
        }
        self.tls_generation = generation;
        let Target::Connector(connector) = &mut self.target else {
            return;
        };
        let (channel, destination) = (self.channel.name(), &self.destination.name);
        match Connector::new(&self.destination.to) {
            Ok(rebuilt) => {
                **connector = rebuilt;
                tracing::info!(
                    channel,
                    destination,
                    partition = self.partition,
                    "Destination connector rebuilt with the reloaded TLS files."
                );
            }
            Err(error) => {
                tracing::error!(channel, destination, partition = self.partition, %error, "Destination keeps its connector: its TLS files do not load.");
            }
        }
    }

    /// Works through one batch of the queue. Returns `None` to look again
    /// at once, or the time to wait for (unless woken).
    async fn pass(&mut self) -> Result<Option<u64>, StoreError> {
        let ordered = self.channel.config.ordering == Ordering::Ordered;
        let now = now_unix_ms();
        let entries = self.channel.store.outbound(
            self.channel.name(),
            &self.destination.name,
            self.partition,
            BATCH,
        )?;
        if entries.is_empty() {
            return Ok(Some(u64::MAX / 2));
        }
        let full = entries.len() == BATCH;
        // The entries due now, in order: in ordered mode only those before
        // the first that waits for a retry, which blocks the rest.
        let mut next_due: Option<u64> = None;
        let mut due = Vec::with_capacity(entries.len());
        for entry in entries {
            let at = entry.header.next_attempt_ms;
            if at <= now {
                due.push(entry);
                continue;
            }
            next_due = Some(next_due.map_or(at, |d| d.min(at)));
            if ordered {
                break;
            }
        }
        let blocked = ordered && next_due.is_some();
        let attempted = !due.is_empty();
        let mut rest = due.as_mut_slice();
        while !rest.is_empty() {
            if self.channel.shutdown.is_cancelled() {
                return Ok(Some(now));
            }
            // Paused or stopped: the entries left wait for the next pass.
            if self.channel.control.state() != ChannelState::Running {
                return Ok(None);
            }
            let (chunk, after) = rest.split_at_mut(self.batch_size().min(rest.len()));
            let settled = self.attempt(chunk).await?;
            let stopped_early = settled.len() < chunk.len();
            for outcome in settled {
                if let Settled::RetryAt(at) = outcome {
                    if ordered {
                        return Ok(Some(at));
                    }
                    next_due = Some(next_due.map_or(at, |d| d.min(at)));
                }
            }
            // A failure ended the chunk (unordered mode): the entries after
            // it are still due.
            if stopped_early {
                return Ok(None);
            }
            rest = after;
        }
        if blocked {
            return Ok(next_due);
        }
        // After a full batch more may wait: look again at once, unless the
        // whole batch was parked (an unordered queue that long is rare: look
        // again after the earliest retry). After a partial batch, whatever
        // was queued since left a wake-up.
        Ok(if attempted && full {
            None
        } else {
            next_due.or(Some(u64::MAX / 2))
        })
    }

    /// How many entries one attempt takes: hand-offs to a channel share
    /// one log flush, so they go together.
    fn batch_size(&self) -> usize {
        match &self.target {
            Target::Connector(connector) => connector.batch_size(),
            Target::Channel(_) => BATCH,
        }
    }

    /// Makes one attempt for each of `entries`, in order, as far as the
    /// connector goes (see [`Connector::deliver_batch`]), and settles each
    /// with the store.
    async fn attempt(&mut self, entries: &mut [OutboundEntry]) -> Result<Vec<Settled>, StoreError> {
        let channel = Arc::clone(&self.channel);
        let attempts = match &mut self.target {
            Target::Channel(to) => {
                let to = Arc::clone(to);
                self.hand_off(entries, &to).await?;
                return Ok(entries.iter().map(|_| Settled::Done).collect());
            }
            Target::Connector(connector) => {
                let deliveries: Vec<Delivery<'_>> = entries
                    .iter()
                    .map(|entry| Delivery {
                        channel: channel.name(),
                        destination: &self.destination.name,
                        message_id: entry.header.message_id,
                        sequence: entry.sequence,
                        control_id: entry.header.control_id.as_deref(),
                        message_type: entry.header.message_type.as_deref(),
                        content_type: &entry.header.content_type,
                        body: &entry.body,
                    })
                    .collect();
                let stopped = async {
                    channel.shutdown.cancelled().await;
                    tokio::time::sleep(IN_FLIGHT_GRACE).await;
                };
                let attempts = tokio::select! {
                    attempts = connector.deliver_batch(&deliveries) => attempts,
                    () = stopped => {
                        tracing::warn!(
                            channel = channel.name(),
                            destination = %self.destination.name,
                            partition = self.partition,
                            messages = deliveries.len(),
                            "Delivery left unanswered as the channel stopped; it will be sent again."
                        );
                        return Ok(Vec::new());
                    }
                };
                if let Some(opened) = connector.take_opened() {
                    DestinationConnected {
                        channel: channel.name(),
                        destination: &self.destination.name,
                        partition: self.partition,
                        opened: &opened,
                    }
                    .emit(&channel.metrics);
                }
                attempts
            }
        };
        attempts
            .into_iter()
            .zip(entries)
            .map(|(attempt, entry)| self.settle(entry, attempt))
            .collect()
    }

    /// Tells the senders waiting for an `after_delivery` ACK what became of
    /// message `message_id`, when this is the channel's ACK destination.
    fn tell_senders(&self, message_id: u64, outcome: impl FnOnce() -> DeliveryOutcome) {
        if self.decides_acks {
            self.signals.deliveries().record(message_id, outcome());
        }
    }

    /// The event of an attempt at `entry` (its attempts not yet counted).
    fn attempted<'a>(
        &'a self,
        entry: &'a OutboundEntry,
        result: &'static str,
        reason: Option<&'a str>,
    ) -> DeliveryAttempted<'a> {
        DeliveryAttempted {
            channel: self.channel.name(),
            destination: &self.destination.name,
            control_id: entry.header.control_id.as_deref(),
            result,
            attempt: entry.header.attempts + 1,
            reason,
        }
    }

    fn settle(&self, entry: &mut OutboundEntry, attempt: Attempt) -> Result<Settled, StoreError> {
        let channel = &self.channel;
        let store = &channel.store;
        let now = now_unix_ms();
        match attempt {
            Attempt::Delivered => {
                store.delivered(entry)?;
                self.tell_senders(entry.header.message_id, || DeliveryOutcome::Delivered);
                self.attempted(entry, "delivered", None)
                    .emit_counted(&self.series.delivered);
                self.observe_latency(entry, now);
                Ok(Settled::Done)
            }
            Attempt::Retry {
                reason,
                after,
                timed_out,
                unreachable,
            } => {
                let result = if unreachable { "unreachable" } else { "retry" };
                self.attempted(entry, result, Some(&reason))
                    .emit(&channel.metrics);
                if timed_out {
                    let labels = channel_and(channel.name(), "destination", &self.destination.name);
                    channel.metrics.ack_timeouts.get_or_create(&labels).inc();
                }
                let retry = &self.destination.retry;
                let backoff = retry.delay(entry.header.attempts + 1, jitter_sample());
                let delay = after.map_or(backoff, |asked| asked.max(backoff));
                entry.failed(now, now + delay.as_millis() as u64, reason, unreachable);
                let error = entry.header.last_error.clone().unwrap_or_default();
                // An outage says nothing about the message: it waits, in
                // order, however long the destination stays unreachable.
                if unreachable || retry.allows_retry(entry.header.counted_attempts()) {
                    store.retry_later(entry)?;
                    self.tell_senders(entry.header.message_id, || DeliveryOutcome::Retrying(error));
                    Ok(Settled::RetryAt(entry.header.next_attempt_ms))
                } else {
                    self.dead_letter(entry, DeadLetterReason::RetriesExhausted, &error, now)
                }
            }
            Attempt::Reject { reason } => {
                self.attempted(entry, "rejected", Some(&reason))
                    .emit(&channel.metrics);
                entry.failed(now, now, reason.clone(), false);
                self.dead_letter(entry, DeadLetterReason::Rejected, &reason, now)
            }
        }
    }

    fn dead_letter(
        &self,
        entry: &OutboundEntry,
        reason: DeadLetterReason,
        error: &str,
        now: u64,
    ) -> Result<Settled, StoreError> {
        let channel = &self.channel;
        channel
            .store
            .dead_letter_outbound(entry, reason, error, now)?;
        self.tell_senders(entry.header.message_id, || {
            DeliveryOutcome::DeadLettered(error.to_owned())
        });
        DeadLettered {
            channel: channel.name(),
            destination: Some(&self.destination.name),
            control_id: entry.header.control_id.as_deref(),
            reason,
            error,
        }
        .emit(&channel.metrics);
        channel.check_dead_letters();
        Ok(Settled::Done)
    }

    /// Moves the entries into `to`'s inbound queue, each in the partition
    /// its own `partition_by` picks.
    /// `&mut self` only so that the future is `Send`: the target's stream
    /// is not `Sync`.
    async fn hand_off(
        &mut self,
        entries: &[OutboundEntry],
        to: &ChannelConfig,
    ) -> Result<(), StoreError> {
        let routed: Vec<(&OutboundEntry, u32)> = entries
            .iter()
            .map(|entry| (entry, to.partition_of_raw(&entry.body)))
            .collect();
        let channel = &self.channel;
        let now = now_unix_ms();
        channel.store.hand_off(&routed, &to.name, now).await?;
        let mut woken = Vec::new();
        for (entry, partition) in routed {
            self.tell_senders(entry.header.message_id, || DeliveryOutcome::Delivered);
            if !woken.contains(&partition) {
                channel.wakers.wake_inbound(&to.name, partition);
                woken.push(partition);
            }
            self.attempted(entry, "delivered", None)
                .emit_counted(&self.series.delivered);
            self.observe_latency(entry, now);
        }
        Ok(())
    }

    fn observe_latency(&self, entry: &OutboundEntry, now: u64) {
        let seconds = now.saturating_sub(entry.header.received_at_ms) as f64 / 1000.0;
        self.series.latency.observe(seconds);
    }
}
