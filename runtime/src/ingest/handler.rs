//! One MLLP connection's loop: read a frame, hand it to the [`Intake`],
//! write the answer; one message in flight at a time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite};

use super::channel::ChannelRuntime;
use super::intake::{Answer, Intake};
use crate::events::{ConnectionClosed, JunkSkipped};
use crate::mllp::{Connection, FrameEvent, MllpError};

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

impl<S: AsyncRead + AsyncWrite + Unpin> Handler<S> {
    /// Reads frames and answers each, until the connection ends.
    pub async fn run(mut self) {
        let mut frames = 0u64;
        let peer = self.peer.to_string();
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
                    frames += 1;
                    self.intake(&peer).ingest(&payload, received).await
                }
                FrameEvent::TooLarge { head, size } => {
                    frames += 1;
                    match self.intake(&peer).refuse_oversized(&head, size, received) {
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

    fn intake<'a>(&'a self, peer: &'a str) -> Intake<'a> {
        Intake {
            channel: &self.channel,
            peer,
        }
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
