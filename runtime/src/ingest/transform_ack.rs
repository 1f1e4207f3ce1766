//! `ack_mode = "after_transform"`: the sender waits until the pipeline has
//! recorded the message's result, and the ACK tells it.
//!
//! | status             | ACK                                            |
//! |--------------------|------------------------------------------------|
//! | processed/filtered | AA                                             |
//! | dead-lettered      | AR, ERR with the plugin's text and location    |
//! | retrying           | AE, ERR: the transform will be retried         |
//! | requeued           | AE, ERR: queued again from the dead letters    |
//! | none in time       | AE, ERR: stored, not yet transformed           |
//!
//! ERR-3 is 200 (unsupported message type) for a failure the plugin placed
//! at MSH-9, and 207 (application internal error) for any other.
//!
//! In every case the message is already durable: an AE here never means it
//! was lost, and a resend is recognised as a duplicate and answered with
//! the original's status.

use std::time::Duration;

use hl7v2::ack::{AckOutcome, ErrDetail, ErrorCode, Severity};

use super::ack::{error, error_at};
use super::channel::ChannelRuntime;
use super::wait;
use crate::store::{MessageState, MessageStatus};

/// An ACK's outcome and ERR details.
pub(crate) type Verdict = (AckOutcome, Vec<ErrDetail>);

/// Waits for message `id`'s pipeline result, up to the channel's
/// `transform_ack_timeout_secs`, and returns the ACK outcome and details.
pub(crate) async fn await_transform(channel: &ChannelRuntime, id: u64) -> Verdict {
    let timeout = Duration::from_secs(channel.config.transform_ack_timeout_secs);
    let processed = channel.signals.processed();
    let deadline = tokio::time::Instant::now() + timeout;
    let verdict = wait::until(processed, None, deadline, || {
        match channel.store.status(id) {
            Ok(Some(status)) => Some(answer(&status)),
            Ok(None) => None,
            Err(store_error) => Some(stored_but(format!(
                "its status cannot be read: {store_error}."
            ))),
        }
    });
    verdict.await.unwrap_or_else(|| {
        stored_but(format!(
            "not transformed within {} s; it will be processed.",
            timeout.as_secs()
        ))
    })
}

/// AE for a message that is durable but whose result is not known:
/// `Message stored, but <why>`.
pub(crate) fn stored_but(why: String) -> Verdict {
    let text = format!("Message stored, but {why}");
    let detail = error(ErrorCode::ApplicationInternalError, Severity::Error, text);
    (AckOutcome::Error, vec![detail])
}

/// The ACK for a pipeline result.
pub(crate) fn answer(status: &MessageStatus) -> Verdict {
    let text = status.error.clone().unwrap_or_default();
    let detail = |text: String| match &status.location {
        Some(location) => {
            let code = if location.segment == "MSH" && location.field == Some(9) {
                ErrorCode::UnsupportedMessageType
            } else {
                ErrorCode::ApplicationInternalError
            };
            error_at(code, &location.segment, location.field, text)
        }
        None => error(ErrorCode::ApplicationInternalError, Severity::Error, text),
    };
    match status.state {
        MessageState::Processed | MessageState::Filtered => (AckOutcome::Accept, Vec::new()),
        MessageState::DeadLettered => (AckOutcome::Reject, vec![detail(text)]),
        MessageState::Retrying => (
            AckOutcome::Error,
            vec![detail(format!("Transform will be retried: {text}"))],
        ),
        MessageState::Requeued => stored_but(
            "it was queued again from the dead-letter queue and is not transformed yet.".into(),
        ),
    }
}
