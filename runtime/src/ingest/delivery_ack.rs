//! `ack_mode = "after_delivery"`: the sender waits until the channel's
//! `ack_destination` has settled the message, and the ACK passes its
//! verdict on.
//!
//! | what happened                                        | ACK                        |
//! |------------------------------------------------------|----------------------------|
//! | delivered (AA, 2xx, file written, handed over)       | AA                         |
//! | filtered, or no output routed to the destination     | AA                         |
//! | dead-lettered by the pipeline                        | AR, ERR: the plugin's text |
//! | dead-lettered at the destination (refused, retries ran out) | AR, ERR: its reason |
//! | still being retried at the deadline                  | AE, ERR: the last failure  |
//! | nothing in time                                      | AE, ERR: stored, not yet delivered |
//!
//! With fan-out, the first output the destination settles decides. The
//! delivery workers record outcomes in memory; a resend (a duplicate) whose
//! outcome is no longer there, for example after a restart, is answered
//! from the store: AR if its dead letter is there, a wait while its entry
//! is queued, else AA. As with `after_transform`, the message is durable
//! before any of this: an AE never means it was lost.

use std::time::Duration;

use hl7v2::ack::{AckOutcome, ErrorCode, Severity};

use super::ack::error;
use super::channel::ChannelRuntime;
use super::transform_ack::{Verdict, answer, stored_but};
use super::wait;
use crate::pipeline::DeliveryOutcome;
use crate::store::{DeadLetterFilter, MessageState, StoreError};

/// The message whose delivery a sender waits for.
pub(crate) struct Awaited {
    /// Its id.
    pub id: u64,
    /// Whether this was a resend of a message stored before.
    pub duplicate: bool,
}

/// Waits for the ACK destination's verdict on `message`, up to the
/// channel's `delivery_ack_timeout_secs`.
pub(crate) async fn await_delivery(channel: &ChannelRuntime, message: &Awaited) -> Verdict {
    let destination = channel
        .config
        .ack_destination
        .as_deref()
        .unwrap_or_default();
    let timeout = Duration::from_secs(channel.config.delivery_ack_timeout_secs);
    let signals = &channel.signals;
    let (outcomes, processed) = (signals.deliveries(), signals.processed());
    let deadline = tokio::time::Instant::now() + timeout;
    let mut retried = None;
    let verdict = wait::until(outcomes.changed(), Some(processed), deadline, || {
        match outcomes.get(message.id) {
            Some(DeliveryOutcome::Delivered) => return Some((AckOutcome::Accept, Vec::new())),
            Some(DeliveryOutcome::DeadLettered(reason)) => {
                return Some(refused(destination, &reason));
            }
            Some(DeliveryOutcome::Retrying(reason)) => {
                retried = Some(reason);
                return None;
            }
            None => {}
        }
        decide(channel, destination, message).unwrap_or_else(|store_error| {
            Some(stored_but(format!(
                "its delivery cannot be read: {store_error}."
            )))
        })
    })
    .await;
    verdict.unwrap_or_else(|| {
        stored_but(match retried {
            Some(reason) => format!("delivery to {destination} is being retried: {reason}"),
            None => format!(
                "not delivered to {destination} within {} s; it will be.",
                timeout.as_secs()
            ),
        })
    })
}

/// The verdict from the pipeline's result when the delivery workers have
/// recorded none: `None` to wait on.
fn decide(
    channel: &ChannelRuntime,
    destination: &str,
    message: &Awaited,
) -> Result<Option<Verdict>, StoreError> {
    let Some(status) = channel.store.status(message.id)? else {
        return Ok(None);
    };
    let routed = status.routed_to.iter().any(|d| d == destination);
    match status.state {
        MessageState::Retrying | MessageState::Requeued => Ok(None),
        MessageState::Processed if routed && !message.duplicate => Ok(None),
        MessageState::Processed if routed => earlier_delivery(channel, destination, message),
        _ => Ok(Some(answer(&status))),
    }
}

/// For a resend whose original's outcome is not in memory: its dead letter
/// at the destination, a wait while it is queued there, or AA.
fn earlier_delivery(
    channel: &ChannelRuntime,
    destination: &str,
    message: &Awaited,
) -> Result<Option<Verdict>, StoreError> {
    let store = &channel.store;
    let filter = DeadLetterFilter {
        channel: Some(channel.name.clone()),
        destination: Some(destination.to_owned()),
        ..DeadLetterFilter::default()
    };
    let letters = store.dead_letters(&filter, usize::MAX)?;
    if let Some(letter) = letters.iter().find(|l| l.header.message_id == message.id) {
        return Ok(Some(refused(destination, &letter.header.error)));
    }
    if store.awaits_delivery(&channel.name, destination, message.id)? {
        return Ok(None);
    }
    Ok(Some((AckOutcome::Accept, Vec::new())))
}

/// AR for a message the destination will not get: in the dead-letter queue.
fn refused(destination: &str, reason: &str) -> Verdict {
    let text = format!("Not delivered to {destination}, dead-lettered: {reason}");
    let detail = error(ErrorCode::ApplicationInternalError, Severity::Error, text);
    (AckOutcome::Reject, vec![detail])
}
