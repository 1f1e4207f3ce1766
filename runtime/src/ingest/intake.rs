//! The ingest path any source shares: parse the message, check it against
//! the channel's profile, dedupe, store it durably (group commit) and decide
//! the ACK, which waits for the pipeline or a destination in the
//! `after_transform` and `after_delivery` modes. Sources (MLLP connections,
//! the file reader) only move bytes in and the answer out.

use std::time::Instant;

use hl7v2::ParseErrorKind;
use hl7v2::ack::{AckContext, AckOutcome, ErrDetail, ErrorCode, Severity};

use super::ack::{batch_ack, commit_ack, error, error_at};
use super::channel::ChannelRuntime;
use super::delivery_ack::{Awaited, await_delivery};
use super::transform_ack::await_transform;
use crate::config::AckMode;
use crate::events::{AckSent, FrameRefused, MessageAccepted, MessageChecked, StorageFailed};
use crate::store::{DedupeKey, Ingested, NewMessage, PendingIngest, StoreError};

/// What the ingest path decided about one message, before the source
/// passes it on.
pub struct Answer {
    /// Whether the message is now durable (for the MLLP release 2 commit
    /// ACK, and before a file may be moved away).
    pub committed: bool,
    /// The HL7 ACK, unless none is due.
    pub ack: Option<String>,
    /// MSA-1 of the ACK (whether or not one is sent).
    pub code: &'static str,
    /// MSA-2 of the ACK, for the audit log.
    pub control_id: Option<String>,
    /// The ACK's ERR details.
    pub errors: Vec<ErrDetail>,
    /// When the message was complete, for the ACK latency.
    pub received: Instant,
}

impl Answer {
    /// Whether the message was accepted (AA or CA).
    pub fn accepted(&self) -> bool {
        matches!(self.code, "AA" | "CA")
    }

    /// Counts and logs the ACK once the source has sent it.
    pub fn sent(&self, channel: &str, metrics: &crate::metrics::Metrics) {
        AckSent {
            channel,
            control_id: self.control_id.as_deref(),
            code: self.code,
            latency: self.received.elapsed(),
        }
        .emit(metrics);
    }
}

/// One message's way in, for a channel and a peer (a socket address, or
/// `file:NAME` for the file reader).
pub struct Intake<'a> {
    /// The channel.
    pub channel: &'a ChannelRuntime,
    /// Where the message came from, as stored and logged.
    pub peer: &'a str,
    /// The name in the sender's TLS client certificate, under mTLS; stored
    /// with the message and given to plugins.
    pub peer_certificate: Option<&'a str>,
}

/// A message the intake has begun: refused already, or written to the
/// store's log and awaiting durability. [`Intake::finish`] turns it into
/// the answer.
pub struct Begun(Stage);

impl From<Answer> for Begun {
    /// A message answered without being stored.
    fn from(answer: Answer) -> Self {
        Begun(Stage::Answered(answer))
    }
}

enum Stage {
    /// Refused, or not stored: the answer is known.
    Answered(Answer),
    /// Written to the log's buffer.
    Written(Box<Written>),
}

/// What the answer to a written message needs once it is durable.
struct Written {
    pending: PendingIngest,
    context: AckContext,
    control_id: Option<String>,
    message_type: Option<String>,
    partition: u32,
    warnings: Vec<ErrDetail>,
    received: Instant,
}

impl Intake<'_> {
    /// Parses, checks, dedupes and stores one message, and decides its
    /// answer: [`Intake::begin`] then [`Intake::finish`].
    pub async fn ingest(&self, frame: &[u8], received: Instant) -> Answer {
        self.finish(self.begin(frame, received)).await
    }

    /// Parses and checks one message and writes it to the store's log,
    /// without waiting for the disk. Messages begun one after another keep
    /// that order in their queue and share one fsync; each must then be
    /// finished, in the same order, before it is answered.
    pub fn begin(&self, frame: &[u8], received: Instant) -> Begun {
        self.count_received();
        let message = match hl7v2::Message::parse(frame) {
            Ok(message) => message,
            Err(parse_error) => {
                return self.refuse_malformed(frame, &parse_error, received).into();
            }
        };
        let context = AckContext::from_message(&message);
        let header = message.header();
        let message_type = header.message_type().event();
        let control_id = header.control_id();
        let warnings = match self.conform(&message, control_id, message_type.as_deref()) {
            Ok(warnings) => warnings,
            Err(errors) => {
                return self
                    .compose(&context, AckOutcome::Reject, &errors, false, received)
                    .into();
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
        let partition = self.channel.config.partition_of(&message);
        let begun = self.channel.store.begin_ingest(&NewMessage {
            channel: &self.channel.name,
            partition,
            raw: frame,
            received_at_ms: crate::hl7_input::now_unix_ms(),
            peer: Some(self.peer),
            peer_certificate: self.peer_certificate,
            control_id,
            message_type: message_type.as_deref(),
            dedupe_key,
            dedupe_window: config.dedupe_window(),
        });
        match begun {
            Ok(pending) => Begun(Stage::Written(Box::new(Written {
                pending,
                context,
                control_id: control_id.map(str::to_owned),
                message_type,
                partition,
                warnings,
                received,
            }))),
            Err(store_error) => self
                .not_stored(&context, control_id, &store_error, received)
                .into(),
        }
    }

    /// Takes the messages of an HL7 batch: begun together, so that they
    /// share a flush, then finished in order. Each is checked, deduplicated
    /// and refused on its own, as a single message would be.
    pub async fn ingest_batch(&self, messages: &[&[u8]], received: Instant) -> Vec<Answer> {
        let run: Vec<Begun> = messages
            .iter()
            .map(|message| self.begin(message, received))
            .collect();
        let mut answers = Vec::with_capacity(run.len());
        for begun in run {
            answers.push(self.finish(begun).await);
        }
        answers
    }

    /// The answer to a batch whose messages gave `answers`: one batch of
    /// their due ACKs (see [`batch_ack`]), or `None` under
    /// `ack_mode = "none"`.
    pub fn batch_reply(&self, batch: &hl7v2::Batch<'_>, answers: &[Answer]) -> Option<String> {
        if self.channel.config.ack_mode == AckMode::None {
            return None;
        }
        let acks: Vec<&str> = answers.iter().filter_map(|a| a.ack.as_deref()).collect();
        Some(batch_ack(batch, &acks, &self.channel.ack_ids))
    }

    /// Waits until a begun message is durable, then for the pipeline or a
    /// destination as the channel's ACK mode asks, and decides the answer.
    pub async fn finish(&self, begun: Begun) -> Answer {
        let written = match begun.0 {
            Stage::Answered(answer) => return answer,
            Stage::Written(written) => *written,
        };
        let (id, duplicate) = match self.settle(&written).await {
            Ok(settled) => settled,
            Err(answer) => return answer,
        };
        let ack_mode = self.channel.config.ack_mode;
        if ack_mode.sender_waits() {
            self.channel.store.expedite();
        }
        let (outcome, mut errors) = match ack_mode {
            AckMode::AfterTransform => await_transform(self.channel, id).await,
            AckMode::AfterDelivery => {
                let awaited = Awaited { id, duplicate };
                await_delivery(self.channel, &awaited).await
            }
            AckMode::Commit | AckMode::None => (AckOutcome::Accept, Vec::new()),
        };
        errors.splice(0..0, written.warnings);
        self.compose(&written.context, outcome, &errors, true, written.received)
    }

    /// Sees a begun message through to durability and the pipeline, with no
    /// answer: for one whose sender is gone (its connection closed while the
    /// answers before it were sent) or whose file stays for the next poll.
    /// Once written it may become durable, and a durable message must reach
    /// its pipeline worker's queue with a wake-up.
    pub async fn abandon(&self, begun: Begun) {
        if let Stage::Written(written) = begun.0 {
            // A failure was logged and counted; the sender, gone, gets no AE.
            let _ = self.settle(&written).await;
        }
    }

    /// Waits until a written message is durable, records it and wakes its
    /// partition's pipeline worker; returns its id and whether it was a
    /// resend, or the AE when storage failed.
    async fn settle(&self, written: &Written) -> Result<(u64, bool), Answer> {
        let control_id = written.control_id.as_deref();
        let ingested = match self.channel.store.finish_ingest(&written.pending).await {
            Ok(ingested) => ingested,
            Err(store_error) => {
                let context = &written.context;
                return Err(self.not_stored(context, control_id, &store_error, written.received));
            }
        };
        MessageAccepted {
            channel: &self.channel.name,
            control_id,
            message_type: written.message_type.as_deref(),
            ingested,
        }
        .emit(&self.channel.metrics);
        let (id, duplicate) = match ingested {
            Ingested::Stored { id } | Ingested::Reused { id, .. } => (id, false),
            Ingested::Duplicate { original_id } => (original_id, true),
        };
        if !duplicate {
            let signal = self.channel.signals.inbound(written.partition);
            signal.notify_one();
        }
        Ok((id, duplicate))
    }

    /// The AE for a message that storage failed to take.
    fn not_stored(
        &self,
        context: &AckContext,
        control_id: Option<&str>,
        store_error: &StoreError,
        received: Instant,
    ) -> Answer {
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
        self.compose(context, AckOutcome::Error, &[detail], false, received)
    }

    /// Counts a message received by the channel's source, whatever becomes
    /// of it.
    pub fn count_received(&self) {
        let series = self.channel.metrics.channel_series(&self.channel.name);
        series.frames_received.inc();
        let now_secs = crate::hl7_input::now_unix_ms() / 1000;
        series
            .last_frame
            .set(i64::try_from(now_secs).unwrap_or(i64::MAX));
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
    pub fn refuse_oversized(&self, head: &[u8], size: usize, received: Instant) -> Option<Answer> {
        self.count_received();
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
            errors: errors.to_vec(),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::Intake;
    use crate::config::{Config, parse};
    use crate::ingest::{AckIds, ChannelRuntime};
    use crate::metrics::{self, Metrics, count};
    use crate::pipeline::{ChannelControl, ChannelState, Wakers};
    use crate::store::{Store, StoreSettings};

    fn runtime(config: &Config, store: Store) -> ChannelRuntime {
        let channel = config.channels[0].clone();
        ChannelRuntime {
            name: channel.name.clone(),
            limits: channel.source.limits(),
            config: channel,
            profile: None,
            mllp_release2: false,
            store,
            metrics: Arc::new(Metrics::new()),
            signals: {
                let wakers = Wakers::default();
                wakers.set_channel(&config.channels[0]);
                wakers.channel(&config.channels[0].name)
            },
            ack_ids: Arc::new(AckIds::new()),
            control: Arc::new(ChannelControl::new(ChannelState::Running)),
            shutdown: Default::default(),
        }
    }

    fn message(control_id: &str) -> Vec<u8> {
        format!("MSH|^~\\&|S|F|R|F|20240101||ADT^A01|{control_id}|P|2.5.1\rPID|1||42\r")
            .into_bytes()
    }

    /// Ensures that a message begun and then abandoned (its sender gone
    /// before its answer) is made durable, counted as stored and wakes its
    /// partition's pipeline worker, which would otherwise sleep on it; and
    /// that the message begun after it is answered as usual.
    #[tokio::test]
    async fn an_abandoned_message_is_stored_and_its_worker_woken() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[[channels]]\nname = \"a\"\n[channels.source]\ntype = \"mllp\"\n\
                    listen = \"127.0.0.1:0\"\n";
        let config = parse(text, "test.toml").unwrap();
        let store = Store::open(dir.path(), StoreSettings::default()).unwrap();
        let channel = runtime(&config, store.clone());
        let intake = Intake {
            channel: &channel,
            peer: "test",
            peer_certificate: None,
        };
        let gone = intake.begin(&message("GONE-1"), Instant::now());
        let next = intake.begin(&message("NEXT-1"), Instant::now());
        intake.abandon(gone).await;
        let woken = channel.signals.inbound(0).notified();
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .expect("the abandoned message woke its worker");
        let stored = count(&channel.metrics.messages_stored, &metrics::channel("a"));
        assert_eq!(stored, 1);
        assert_eq!(intake.finish(next).await.code, "AA");
        let stored: Vec<String> = store
            .messages()
            .map(|message| message.unwrap().control_id.unwrap())
            .collect();
        assert_eq!(stored, ["GONE-1", "NEXT-1"]);
    }
}
