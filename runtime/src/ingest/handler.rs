//! One MLLP connection's loop: read a frame, hand it to the [`Intake`],
//! write the answer. A sender that pipelines (sends on before its ACK)
//! finds the frames that arrived together begun together, up to
//! [`PIPELINED_RUN`]: they share one fsync, and are answered in order. An
//! HL7 batch in one frame is answered with one batch of ACKs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite};

use super::channel::ChannelRuntime;
use super::intake::{Answer, Begun, Intake};
use crate::events::{ConnectionClosed, JunkSkipped};
use crate::mllp::{Connection, FrameEvent, MllpError};

/// The most messages of one connection begun before the first of them is
/// answered.
pub const PIPELINED_RUN: usize = 64;

/// Serves one accepted connection until the sender closes it, a limit is
/// hit or the engine shuts down.
pub struct Handler<S> {
    /// The framed connection.
    pub connection: Connection<S>,
    /// The sender's address.
    pub peer: SocketAddr,
    /// The name in the sender's TLS client certificate, under mTLS.
    pub peer_certificate: Option<String>,
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

impl<S: AsyncRead + AsyncWrite + Unpin> Handler<S> {
    /// Reads frames and answers each, until the connection ends.
    pub async fn run(mut self) {
        let mut frames = 0u64;
        let peer = self.peer.to_string();
        let channel = Arc::clone(&self.channel);
        let peer_certificate = self.peer_certificate.take();
        let intake = Intake {
            channel: &channel,
            peer: &peer,
            peer_certificate: peer_certificate.as_deref(),
        };
        // An event read ahead behind a run of messages, handled next.
        let mut held: Option<Result<FrameEvent, MllpError>> = None;
        let error = loop {
            // Once the channel stops, a frame read ahead is not begun.
            if self.channel.shutdown.is_cancelled() {
                break None;
            }
            let event = match held.take() {
                Some(event) => event.map(Some),
                None => tokio::select! {
                    event = self.connection.read_frame() => event,
                    () = self.channel.shutdown.cancelled() => break None,
                },
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
                FrameEvent::Message(payload) if hl7v2::starts_batch(&payload) => {
                    frames += 1;
                    match self.answer_batch(&intake, &payload, received).await {
                        Ok(()) => continue,
                        Err(error) => break Some(error),
                    }
                }
                FrameEvent::Message(payload) => {
                    let mut run = vec![intake.begin(&payload, received)];
                    held = self.begin_buffered(&intake, &mut run);
                    frames += run.len() as u64;
                    match self.answer_run(&intake, run).await {
                        Ok(()) => continue,
                        Err(error) => break Some(error),
                    }
                }
                FrameEvent::TooLarge { head, size } => {
                    frames += 1;
                    match intake.refuse_oversized(&head, size, received) {
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

    /// Begins the messages already read behind the first of `run`, up to
    /// [`PIPELINED_RUN`]; returns the first other event (or error) found,
    /// which the caller handles after the run.
    fn begin_buffered(
        &mut self,
        intake: &Intake<'_>,
        run: &mut Vec<Begun>,
    ) -> Option<Result<FrameEvent, MllpError>> {
        while run.len() < PIPELINED_RUN {
            match self.connection.buffered_frame() {
                Ok(Some(FrameEvent::Message(payload))) if !hl7v2::starts_batch(&payload) => {
                    run.push(intake.begin(&payload, Instant::now()));
                }
                Ok(None) => return None,
                Ok(Some(other)) => return Some(Ok(other)),
                Err(error) => return Some(Err(error)),
            }
        }
        None
    }

    /// Finishes and answers a run of begun messages, in order. When an
    /// answer cannot be sent, the rest are seen through to the pipeline
    /// unanswered: the sender will resend them, and dedupe knows them.
    async fn answer_run(&mut self, intake: &Intake<'_>, run: Vec<Begun>) -> Result<(), Close> {
        let mut run = run.into_iter();
        for begun in run.by_ref() {
            let answer = intake.finish(begun).await;
            if let Err(error) = self.send(answer).await {
                for unanswered in run {
                    intake.abandon(unanswered).await;
                }
                return Err(error);
            }
        }
        Ok(())
    }

    /// Takes an HL7 batch (FHS/BHS ... BTS/FTS) sent in one frame: its
    /// messages are begun together (they share a flush) and finished in
    /// order, and their ACKs go back together in one frame, as a batch
    /// (see [`Intake::batch_reply`]).
    async fn answer_batch(
        &mut self,
        intake: &Intake<'_>,
        payload: &[u8],
        received: Instant,
    ) -> Result<(), Close> {
        let batch = match hl7v2::split_batch(payload) {
            Ok(batch) => batch,
            // A header followed by a segment other than MSH: refused as
            // malformed, as a frame without MSH is.
            Err(_) => {
                let answer = intake.finish(intake.begin(payload, received)).await;
                return self.send(answer).await;
            }
        };
        let answers = intake.ingest_batch(&batch.messages, received).await;
        if self.channel.mllp_release2 {
            let committed = answers.iter().all(|answer| answer.committed);
            self.connection
                .write_commit_ack(committed)
                .await
                .map_err(Close::Mllp)?;
        }
        let Some(reply) = intake.batch_reply(&batch, &answers) else {
            return Ok(());
        };
        self.connection
            .write_frame(reply.as_bytes())
            .await
            .map_err(Close::Mllp)?;
        for answer in answers.iter().filter(|answer| answer.ack.is_some()) {
            answer.sent(&self.channel.name, &self.channel.metrics);
        }
        Ok(())
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
        if let Some(ack) = &answer.ack {
            self.connection
                .write_frame(ack.as_bytes())
                .await
                .map_err(Close::Mllp)?;
            answer.sent(&self.channel.name, &self.channel.metrics);
        }
        Ok(())
    }
}
