//! One connection's loop: frame → MSH → dedupe → persist → ACK, one
//! message in flight at a time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hl7v2::ParseErrorKind;
use hl7v2::ack::{AckContext, AckOutcome, ErrDetail, ErrorCode, Severity};
use tokio::io::{AsyncRead, AsyncWrite};

use super::ack::{commit_ack, error, error_at};
use super::channel::ChannelRuntime;
use super::delivery_ack::{Awaited, await_delivery};
use super::transform_ack::await_transform;
use crate::config::AckMode;
use crate::events::{
    AckSent, ConnectionClosed, FrameRefused, JunkSkipped, MessageAccepted, MessageChecked,
    StorageFailed,
};
use crate::mllp::{Connection, FrameEvent, MllpError};
use crate::store::{DedupeKey, Ingested, NewMessage};

/// Serves one accepted connection until the sender closes it, a limit is
/// hit or the engine shuts down.
pub struct Handler<S> {
    /// The framed connection.
    pub connection: Connection<S>,
    /// The sender's address.
    pub peer: SocketAddr,
    /// The channel it belongs to.
    pub channel: Arc<ChannelRuntime>,
}

/// Why a connection ends on our side.
enum Close {
    /// The MLLP layer failed (timeout, truncation, I/O).
    Mllp(MllpError),
    /// An oversized frame without a readable MSH: no ACK can be built.
    Unanswerable,
}

impl Close {
    fn reason(&self) -> &'static str {
        match self {
            Close::Mllp(error) => error.reason(),
            Close::Unanswerable => "oversized_without_msh",
        }
    }
}

/// What the ingest path decided about one frame, before it is written out.
struct Answer {
    /// Whether the frame is now durable (for the MLLP release 2 commit ACK).
    committed: bool,
    /// The HL7 ACK, unless none is due.
    ack: Option<String>,
    /// MSA-1 of `ack`, for the metrics.
    code: &'static str,
    /// MSA-2 of `ack`, for the audit log.
    control_id: Option<String>,
    /// When the frame was complete, for the ACK latency.
    received: Instant,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Handler<S> {
    /// Reads frames and answers each, until the connection ends.
    pub async fn run(mut self) {
        let mut frames = 0u64;
        let error = loop {
            let event = tokio::select! {
                event = self.connection.read_frame() => event,
                () = self.channel.shutdown.cancelled() => break None,
            };
            let event = match event {
                Ok(Some(event)) => event,
                Ok(None) => break None,
                Err(error) => break Some(Close::Mllp(error)),
            };
            let received = Instant::now();
            let answer = match event {
                FrameEvent::Junk(bytes) => {
                    self.skipped(bytes);
                    continue;
                }
                // A sender's MLLP release 2 commit acknowledgement of our ACK.
                FrameEvent::CommitAck(_) => continue,
                FrameEvent::Message(payload) => {
                    self.count_frame(&mut frames);
                    self.ingest(&payload, received).await
                }
                FrameEvent::TooLarge { head, size } => {
                    self.count_frame(&mut frames);
                    match self.refuse_oversized(&head, size, received) {
                        Some(answer) => answer,
                        None => break Some(Close::Unanswerable),
                    }
                }
            };
            if let Err(error) = self.send(answer).await {
                break Some(error);
            }
        };
        ConnectionClosed {
            channel: &self.channel.name,
            peer: self.peer,
            error: error.as_ref().map(Close::reason),
            frames,
        }
        .emit(&self.channel.metrics);
    }

    fn count_frame(&self, frames: &mut u64) {
        *frames += 1;
        let labels = crate::metrics::channel(&self.channel.name);
        self.channel
            .metrics
            .frames_received
            .get_or_create(&labels)
            .inc();
    }

    fn skipped(&self, bytes: usize) {
        JunkSkipped {
            channel: &self.channel.name,
            peer: self.peer,
            bytes,
        }
        .emit(&self.channel.metrics);
    }

    /// Writes the MLLP release 2 commit acknowledgement (if enabled) and the
    /// HL7 ACK (if due).
    async fn send(&mut self, answer: Answer) -> Result<(), Close> {
        if self.channel.mllp_release2 {
            self.connection
                .write_commit_ack(answer.committed)
                .await
                .map_err(Close::Mllp)?;
        }
        if let Some(ack) = answer.ack {
            self.connection
                .write_frame(ack.as_bytes())
                .await
                .map_err(Close::Mllp)?;
            AckSent {
                channel: &self.channel.name,
                control_id: answer.control_id.as_deref(),
                code: answer.code,
                latency: answer.received.elapsed(),
            }
            .emit(&self.channel.metrics);
        }
        Ok(())
    }

    /// Parses, dedupes and stores one message.
    async fn ingest(&self, frame: &[u8], received: Instant) -> Answer {
        let message = match hl7v2::Message::parse(frame) {
            Ok(message) => message,
            Err(parse_error) => return self.refuse_malformed(frame, &parse_error, received),
        };
        let context = AckContext::from_message(&message);
        let header = message.header();
        let message_type = header.message_type().event();
        let control_id = header.control_id();
        let warnings = match self.conform(&message, control_id, message_type.as_deref()) {
            Ok(warnings) => warnings,
            Err(errors) => {
                return self.compose(&context, AckOutcome::Reject, &errors, false, received);
            }
        };
        let config = &self.channel.config;
        let dedupe_key = control_id
            .filter(|_| config.dedupes())
            .map(|control_id| DedupeKey {
                sending_application: header.sending_application().unwrap_or(""),
                sending_facility: header.sending_facility().unwrap_or(""),
                control_id,
            });
        let peer = self.peer.to_string();
        let partition = self.channel.config.partition_of(&message);
        let stored = self
            .channel
            .store
            .ingest(NewMessage {
                channel: &self.channel.name,
                partition,
                raw: frame,
                received_at_ms: crate::hl7_input::now_unix_ms(),
                peer: Some(&peer),
                control_id,
                message_type: message_type.as_deref(),
                dedupe_key,
                dedupe_window: config.dedupe_window(),
            })
            .await;
        let (outcome, errors, committed) = match stored {
            Ok(ingested) => {
                let (id, duplicate) = match ingested {
                    Ingested::Stored { id } => (id, false),
                    Ingested::Duplicate { original_id } => (original_id, true),
                };
                MessageAccepted {
                    channel: &self.channel.name,
                    control_id,
                    message_type: message_type.as_deref(),
                    id,
                    duplicate,
                }
                .emit(&self.channel.metrics);
                if !duplicate {
                    let name = &self.channel.name;
                    self.channel.wakers.wake_inbound(name, partition);
                }
                let (outcome, mut errors) = match self.channel.config.ack_mode {
                    AckMode::AfterTransform => await_transform(&self.channel, id).await,
                    AckMode::AfterDelivery => {
                        let awaited = Awaited {
                            id,
                            partition,
                            duplicate,
                        };
                        await_delivery(&self.channel, &awaited).await
                    }
                    AckMode::Commit | AckMode::None => (AckOutcome::Accept, Vec::new()),
                };
                errors.splice(0..0, warnings);
                (outcome, errors, true)
            }
            Err(store_error) => {
                let reason = store_error.to_string();
                StorageFailed {
                    channel: &self.channel.name,
                    control_id,
                    reason: &reason,
                }
                .emit(&self.channel.metrics);
                let detail = error(
                    ErrorCode::ApplicationInternalError,
                    Severity::Error,
                    "Message not stored: storage is unavailable. Resend later.",
                );
                (AckOutcome::Error, vec![detail], false)
            }
        };
        self.compose(&context, outcome, &errors, committed, received)
    }

    /// Applies the channel's conformance profile: the warnings to add to
    /// the ACK, or the findings that refuse the message.
    fn conform(
        &self,
        message: &hl7v2::Message<'_>,
        control_id: Option<&str>,
        message_type: Option<&str>,
    ) -> Result<Vec<ErrDetail>, Vec<ErrDetail>> {
        let Some(profile) = &self.channel.profile else {
            return Ok(Vec::new());
        };
        let findings = profile.check(message);
        if findings.details.is_empty() {
            return Ok(Vec::new());
        }
        MessageChecked {
            channel: &self.channel.name,
            control_id,
            message_type,
            profile: &profile.name,
            findings: &findings,
        }
        .emit(&self.channel.metrics);
        if findings.refuses() {
            Err(findings.details)
        } else {
            Ok(findings.details)
        }
    }

    fn refuse_malformed(
        &self,
        frame: &[u8],
        parse_error: &hl7v2::ParseError,
        received: Instant,
    ) -> Answer {
        let (reason, detail) = describe_parse_error(parse_error);
        let context = AckContext::from_raw(frame).unwrap_or_default();
        FrameRefused {
            channel: &self.channel.name,
            peer: self.peer,
            reason,
            control_id: context.control_id.as_deref(),
            detail: &parse_error.to_string(),
        }
        .emit(&self.channel.metrics);
        self.compose(&context, AckOutcome::Reject, &[detail], false, received)
    }

    /// Refuses an oversized frame; `None` when its head has no readable MSH.
    fn refuse_oversized(&self, head: &[u8], size: usize, received: Instant) -> Option<Answer> {
        let limit = self.channel.limits.max_message_bytes;
        let text = format!("Message of {size} bytes exceeds the limit of {limit} bytes.");
        let context = AckContext::from_raw(head);
        FrameRefused {
            channel: &self.channel.name,
            peer: self.peer,
            reason: "too_large",
            control_id: context.as_ref().and_then(|c| c.control_id.as_deref()),
            detail: &text,
        }
        .emit(&self.channel.metrics);
        // Without a readable MSH no ACK can be built: the caller closes.
        let context = context?;
        let detail = error(ErrorCode::ApplicationInternalError, Severity::Error, text);
        Some(self.compose(&context, AckOutcome::Reject, &[detail], false, received))
    }

    fn compose(
        &self,
        context: &AckContext,
        outcome: AckOutcome,
        errors: &[ErrDetail],
        committed: bool,
        received: Instant,
    ) -> Answer {
        let wanted = match self.channel.config.ack_mode {
            AckMode::Commit => context.should_send_commit_ack(outcome),
            AckMode::AfterTransform | AckMode::AfterDelivery => true,
            AckMode::None => false,
        };
        let code = context.commit_code(outcome).as_str();
        Answer {
            committed,
            ack: wanted.then(|| commit_ack(context, outcome, errors, &self.channel.ack_ids)),
            code,
            control_id: context.control_id.clone(),
            received,
        }
    }
}

/// A stable metric reason and the ERR detail for a parse error.
fn describe_parse_error(parse_error: &hl7v2::ParseError) -> (&'static str, ErrDetail) {
    let text = format!("Malformed message: {parse_error}.");
    match &parse_error.kind {
        ParseErrorKind::Empty => (
            "empty",
            error(ErrorCode::SegmentSequenceError, Severity::Error, text),
        ),
        ParseErrorKind::NoMsh => (
            "no_msh",
            error_at(ErrorCode::SegmentSequenceError, "MSH", None, text),
        ),
        ParseErrorKind::BadFieldSeparator(_) => (
            "bad_field_separator",
            error_at(ErrorCode::DataTypeError, "MSH", Some(1), text),
        ),
        ParseErrorKind::BadEncodingCharacters(_) => (
            "bad_encoding_characters",
            error_at(ErrorCode::DataTypeError, "MSH", Some(2), text),
        ),
        ParseErrorKind::Truncated => (
            "truncated",
            error_at(ErrorCode::SegmentSequenceError, "MSH", None, text),
        ),
        _ => (
            "undecodable",
            error_at(ErrorCode::DataTypeError, "MSH", Some(18), text),
        ),
    }
}
