//! Outbound queue entries: one message waiting for one destination, with
//! its delivery attempts so far.

use serde::{Deserialize, Serialize};

/// A message for a destination, as the pipeline hands it over.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    /// The destination's name.
    pub destination: String,
    /// The content type of the payload.
    pub content_type: String,
    /// What to deliver.
    pub payload: Payload,
}

/// What an outbound entry delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// The inbound message exactly as received. The entry refers to the
    /// message's record instead of holding a copy, so a pass-through, or a
    /// fan-out to many destinations, stores the body once.
    Message,
    /// Bytes of its own, such as a transform's output.
    Bytes(Vec<u8>),
}

/// What an outbound entry records besides its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundHeader {
    /// The inbound message it came from.
    pub message_id: u64,
    /// When the inbound message was received, in milliseconds since the
    /// Unix epoch (for the end-to-end latency).
    pub received_at_ms: u64,
    /// MSH-10 of the inbound message.
    pub control_id: Option<String>,
    /// MSH-9 of the inbound message, for example `ADT^A01`.
    pub message_type: Option<String>,
    /// The payload's content type.
    pub content_type: String,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// How many of them could not reach the destination at all (see
    /// `Attempt::Retry`'s `unreachable`); these do not count against the
    /// retry limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreachable_attempts: u32,
    /// When the first attempt failed, in milliseconds since the Unix epoch.
    pub first_failure_ms: Option<u64>,
    /// When the latest attempt failed.
    pub last_failure_ms: Option<u64>,
    /// Not to be attempted before this time (0: at once).
    pub next_attempt_ms: u64,
    /// Why the latest attempt failed.
    pub last_error: Option<String>,
    /// Whether the payload is the inbound message's (see
    /// [`Payload::Message`]): the entry then stores none of its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_in_message: bool,
}

impl OutboundHeader {
    /// The failed attempts that count against the retry limit: those that
    /// reached the destination.
    pub fn counted_attempts(&self) -> u32 {
        self.attempts.saturating_sub(self.unreachable_attempts)
    }

    /// The header of an entry not attempted yet.
    pub fn new(
        message_id: u64,
        received_at_ms: u64,
        control_id: Option<String>,
        message_type: Option<String>,
        content_type: String,
    ) -> Self {
        OutboundHeader {
            message_id,
            received_at_ms,
            control_id,
            message_type,
            content_type,
            attempts: 0,
            unreachable_attempts: 0,
            first_failure_ms: None,
            last_failure_ms: None,
            next_attempt_ms: 0,
            last_error: None,
            body_in_message: false,
        }
    }
}

/// One entry of a destination's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundEntry {
    /// The channel.
    pub channel: String,
    /// The destination.
    pub destination: String,
    /// The partition, which keeps its order.
    pub partition: u32,
    /// Unique and increasing in the order entries were queued.
    pub sequence: u64,
    /// Its attempts and origin.
    pub header: OutboundHeader,
    /// What to deliver.
    pub body: Vec<u8>,
}

impl OutboundEntry {
    /// The payload as the entry stores it: none when it is the inbound
    /// message's.
    pub(crate) fn stored_payload(&self) -> &[u8] {
        if self.header.body_in_message {
            &[]
        } else {
            &self.body
        }
    }

    /// Records a failed attempt at `now_ms`, to be retried at `retry_at_ms`;
    /// `unreachable` when it could not reach the destination at all.
    pub fn failed(&mut self, now_ms: u64, retry_at_ms: u64, error: String, unreachable: bool) {
        let header = &mut self.header;
        header.attempts += 1;
        header.unreachable_attempts += u32::from(unreachable);
        header.first_failure_ms.get_or_insert(now_ms);
        header.last_failure_ms = Some(now_ms);
        header.next_attempt_ms = retry_at_ms;
        header.last_error = Some(error);
    }
}

/// Whether `count` is zero (to leave a zero count out of a stored header).
fn is_zero(count: &u32) -> bool {
    *count == 0
}
