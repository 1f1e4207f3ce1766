//! MLLP (Minimal Lower Layer Protocol): framing HL7 v2 messages on a byte stream.
//!
//! A message travels as one block:
//!
//! ```text
//! <VT 0x0B> message bytes <FS 0x1C><CR 0x0D>
//! ```
//!
//! [`frame`] finds blocks in a buffer before anything is allocated (mini-redis
//! `Frame::check`); [`connection`] reads and writes them on a socket, one message in
//! flight: the caller reads a frame, answers it, then reads the next.
//!
//! What the reader tolerates, and what it reports:
//!
//! - Bytes outside a block (before a `VT`, a stray `LF` after `FS CR`, a block cut short
//!   by a new `VT`) are dropped and reported as [`FrameEvent::Junk`] with their count.
//! - A missing final `CR`: a block ends at `FS`. A `CR` right after `FS` is consumed, even
//!   when it arrives in a later read.
//! - A message larger than [`MllpLimits::max_message_bytes`] is never buffered: its first
//!   [`frame::HEAD_BYTES`] are kept (enough for MSH, so an AR can be built), the rest is
//!   discarded until `FS`, and [`FrameEvent::TooLarge`] reports it. The connection stays
//!   usable. If no `FS` comes within [`MllpLimits::max_oversized_bytes`], reading fails
//!   with [`MllpError::OversizedUnterminated`] and the caller closes the connection.
//! - Time: [`MllpLimits::idle_timeout_secs`] bounds the wait for the first byte of a
//!   block, [`MllpLimits::frame_timeout_secs`] the time from its first byte to its end,
//!   which defeats a sender trickling one byte at a time.
//!
//! MLLP release 2 commit acknowledgements (`<VT><ACK 0x06><FS><CR>` and
//! `<VT><NAK 0x15><FS><CR>`) are written with [`Connection::write_commit_ack`] and read as
//! [`FrameEvent::CommitAck`].

pub mod connection;
pub mod frame;

use std::io;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

pub use connection::Connection;
pub use frame::{FrameDecoder, FrameEvent};

/// Size and time limits for one MLLP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MllpLimits {
    /// The largest message accepted, in bytes, without the framing bytes.
    ///
    /// A larger message is discarded and answered with AR. By default this is 1 MiB.
    pub max_message_bytes: usize,
    /// How many bytes an oversized message (or bytes outside any block) may span before
    /// the connection is closed for want of an end of block.
    ///
    /// By default this is 16 times `max_message_bytes`.
    pub max_oversized_bytes: Option<usize>,
    /// How long a connection may stay silent between messages, in seconds.
    ///
    /// By default this is 60 seconds.
    pub idle_timeout_secs: u64,
    /// How long one message may take from its first byte to its end, in seconds.
    ///
    /// By default this is 30 seconds.
    pub frame_timeout_secs: u64,
}

impl Default for MllpLimits {
    fn default() -> Self {
        MllpLimits {
            max_message_bytes: 1024 * 1024,
            max_oversized_bytes: None,
            idle_timeout_secs: 60,
            frame_timeout_secs: 30,
        }
    }
}

impl MllpLimits {
    /// The byte count past which an unterminated oversized message closes the connection.
    pub fn oversized_limit(&self) -> usize {
        self.max_oversized_bytes
            .unwrap_or(self.max_message_bytes.saturating_mul(16))
            .max(self.max_message_bytes)
    }

    /// [`Self::idle_timeout_secs`] as a [`Duration`].
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// [`Self::frame_timeout_secs`] as a [`Duration`].
    pub fn frame_timeout(&self) -> Duration {
        Duration::from_secs(self.frame_timeout_secs)
    }
}

/// Why an MLLP connection cannot go on.
///
/// Each variant is a distinct outcome a listener counts; all of them end the connection.
#[derive(Debug, Error)]
pub enum MllpError {
    /// No byte arrived between messages within the idle timeout.
    #[error("no message began within {0:?}")]
    IdleTimeout(Duration),
    /// A message began but did not end within the frame timeout.
    #[error("a message did not end within {0:?} of its first byte")]
    FrameTimeout(Duration),
    /// An oversized message ran past the hard limit without an end of block.
    #[error("an oversized message ran past {received} bytes without an end of block")]
    OversizedUnterminated {
        /// Bytes of the message received before giving up.
        received: usize,
    },
    /// Bytes kept arriving without a start of block, past the hard limit.
    #[error("{skipped} bytes arrived without a start of block")]
    Unframed {
        /// Bytes dropped before giving up.
        skipped: usize,
    },
    /// The peer closed the connection in the middle of a message.
    #[error("the connection closed in the middle of a message after {received} bytes")]
    Truncated {
        /// Bytes of the message received before the close.
        received: usize,
    },
    /// No reply arrived within the client's reply timeout.
    #[error("no reply within {0:?}")]
    ReplyTimeout(Duration),
    /// The peer closed the connection without replying.
    #[error("the peer closed the connection without replying")]
    NoReply,
    /// The peer answered with an MLLP release 2 negative commit acknowledgement.
    #[error("the peer refused the message with a negative commit acknowledgement (NAK)")]
    CommitNak,
    /// The peer's reply was larger than the maximum message size.
    #[error("the reply of {size} bytes exceeds the maximum message size")]
    ReplyTooLarge {
        /// Size of the reply in bytes.
        size: usize,
    },
    /// Reading or writing the socket failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl MllpError {
    /// A stable lower-case name, for metric labels and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            MllpError::IdleTimeout(_) => "idle_timeout",
            MllpError::FrameTimeout(_) => "frame_timeout",
            MllpError::OversizedUnterminated { .. } => "oversized_unterminated",
            MllpError::Unframed { .. } => "unframed",
            MllpError::Truncated { .. } => "truncated",
            MllpError::ReplyTimeout(_) => "reply_timeout",
            MllpError::NoReply => "no_reply",
            MllpError::CommitNak => "commit_nak",
            MllpError::ReplyTooLarge { .. } => "reply_too_large",
            MllpError::Io(_) => "io",
        }
    }
}
