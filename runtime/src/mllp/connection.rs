//! [`Connection`]: MLLP blocks over one socket, with the read deadlines that keep a slow
//! or silent peer from holding it.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout, timeout_at};

use super::frame::{COMMIT_ACK, COMMIT_NAK, FrameDecoder, FrameEvent, encode};
use super::{MllpError, MllpLimits};

/// Reads and writes MLLP blocks on a stream (TCP, TLS, or an in-memory pipe).
#[derive(Debug)]
pub struct Connection<S> {
    stream: S,
    buffer: BytesMut,
    decoder: FrameDecoder,
    limits: MllpLimits,
    /// When the first byte of the block being read arrived.
    frame_started: Option<Instant>,
    eof: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// A connection over `stream` that enforces `limits`.
    pub fn new(stream: S, limits: MllpLimits) -> Self {
        Connection {
            stream,
            buffer: BytesMut::with_capacity(8 * 1024),
            decoder: FrameDecoder::new(&limits),
            limits,
            frame_started: None,
            eof: false,
        }
    }

    /// The underlying stream, for example to read a TLS peer's identity.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Reads the next event; `Ok(None)` is a clean close by the peer between messages.
    ///
    /// # Errors
    ///
    /// [`MllpError::IdleTimeout`] when no byte arrives between messages within the idle
    /// timeout, [`MllpError::FrameTimeout`] when a block does not end within the frame
    /// timeout of its first byte, [`MllpError::Truncated`] on a close inside a block, the
    /// decoder's size-limit errors, and [`MllpError::Io`].
    pub async fn read_frame(&mut self) -> Result<Option<FrameEvent>, MllpError> {
        loop {
            if let Some(event) = self.buffered_frame()? {
                return Ok(Some(event));
            }
            if self.eof {
                return self.decoder.finish(&mut self.buffer);
            }
            self.fill_buffer().await?;
        }
    }

    /// The next event already in the read buffer, without reading from the
    /// stream: a pipelining sender's frames that arrived with the last read.
    ///
    /// # Errors
    ///
    /// The decoder's size-limit errors.
    pub fn buffered_frame(&mut self) -> Result<Option<FrameEvent>, MllpError> {
        let event = self.decoder.decode(&mut self.buffer)?;
        if event.is_some() {
            self.frame_started = None;
        }
        Ok(event)
    }

    /// Reads once from the stream, within whichever deadline applies.
    async fn fill_buffer(&mut self) -> Result<(), MllpError> {
        let read = if self.decoder.in_progress(&self.buffer) {
            let started = *self.frame_started.get_or_insert_with(Instant::now);
            let limit = self.limits.frame_timeout();
            timeout_at(started + limit, self.stream.read_buf(&mut self.buffer))
                .await
                .map_err(|_| MllpError::FrameTimeout(limit))?
        } else {
            let limit = self.limits.idle_timeout();
            timeout(limit, self.stream.read_buf(&mut self.buffer))
                .await
                .map_err(|_| MllpError::IdleTimeout(limit))?
        };
        // A TLS peer that closes without close_notify reads as
        // UnexpectedEof; between frames that is an ordinary close, and
        // inside a frame `finish` reports the truncation.
        let read = match read {
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            read => read?,
        };
        if read == 0 {
            self.eof = true;
        } else {
            self.frame_started.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    /// Writes `payload` as one block and flushes it.
    ///
    /// # Errors
    ///
    /// [`MllpError::Io`] when the write fails.
    pub async fn write_frame(&mut self, payload: &[u8]) -> Result<(), MllpError> {
        self.stream.write_all(&encode(payload)).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Closes the connection gracefully: ends the sending side (a TLS close_notify,
    /// then FIN), and reads and drops what the peer still sends until it closes too, or
    /// `linger` passes. Closing with unread replies would reset the connection, and
    /// the peer may then lose the last messages it had not read yet.
    pub async fn close(mut self, linger: Duration) {
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let drain = async { while let Ok(Some(_)) = self.read_frame().await {} };
        let _ = timeout(linger, drain).await;
    }

    /// Writes an MLLP release 2 commit acknowledgement: ACK when `accepted`, else NAK.
    ///
    /// # Errors
    ///
    /// [`MllpError::Io`] when the write fails.
    pub async fn write_commit_ack(&mut self, accepted: bool) -> Result<(), MllpError> {
        let code = if accepted { COMMIT_ACK } else { COMMIT_NAK };
        self.write_frame(&[code]).await
    }

    /// Sends `payload` and waits for the reply message that `answers` it (the client
    /// side of MLLP): an ACK whose MSA-2 is the payload's MSH-10, say.
    ///
    /// A positive commit acknowledgement, junk and messages that do not answer (a late
    /// ACK for an earlier message) are skipped. The connection's idle and frame
    /// timeouts also apply.
    ///
    /// # Errors
    ///
    /// [`MllpError::ReplyTimeout`] when no reply arrives within `reply_timeout`,
    /// [`MllpError::CommitNak`] on a negative commit acknowledgement,
    /// [`MllpError::NoReply`] when the peer closes first, [`MllpError::ReplyTooLarge`],
    /// and any error of [`Self::read_frame`].
    pub async fn request(
        &mut self,
        payload: &[u8],
        reply_timeout: Duration,
        answers: impl Fn(&[u8]) -> bool,
    ) -> Result<Bytes, MllpError> {
        self.write_frame(payload).await?;
        timeout(reply_timeout, self.read_reply(answers))
            .await
            .map_err(|_| MllpError::ReplyTimeout(reply_timeout))?
    }

    /// Reads events until the reply message that `answers`.
    async fn read_reply(&mut self, answers: impl Fn(&[u8]) -> bool) -> Result<Bytes, MllpError> {
        loop {
            match self.read_frame().await?.ok_or(MllpError::NoReply)? {
                FrameEvent::Message(reply) if answers(&reply) => return Ok(reply),
                FrameEvent::Message(_) => {}
                FrameEvent::CommitAck(true) | FrameEvent::Junk(_) => {}
                FrameEvent::CommitAck(false) => return Err(MllpError::CommitNak),
                FrameEvent::TooLarge { size, .. } => {
                    return Err(MllpError::ReplyTooLarge { size });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{DuplexStream, duplex};

    fn limits() -> MllpLimits {
        MllpLimits {
            max_message_bytes: 1000,
            idle_timeout_secs: 60,
            frame_timeout_secs: 30,
            ..MllpLimits::default()
        }
    }

    fn pair() -> (Connection<DuplexStream>, DuplexStream) {
        let (ours, theirs) = duplex(64 * 1024);
        (Connection::new(ours, limits()), theirs)
    }

    fn message(payload: &[u8]) -> Option<FrameEvent> {
        Some(FrameEvent::Message(Bytes::copy_from_slice(payload)))
    }

    /// Ensures that frames are read one after another and a close between them is clean.
    #[tokio::test]
    async fn reads_frames_then_clean_close() {
        let (mut conn, mut peer) = pair();
        peer.write_all(b"junk\x0bone\x1c\r\x0btwo\x1c")
            .await
            .unwrap();
        drop(peer);
        assert_eq!(conn.read_frame().await.unwrap(), Some(FrameEvent::Junk(4)));
        assert_eq!(conn.read_frame().await.unwrap(), message(b"one"));
        assert_eq!(conn.read_frame().await.unwrap(), message(b"two"));
        assert_eq!(conn.read_frame().await.unwrap(), None);
    }

    /// Ensures that an oversized frame is reported and the next frame is still read.
    #[tokio::test]
    async fn oversized_frame_leaves_connection_usable() {
        let (mut conn, mut peer) = pair();
        let big = [b"MSH|^~\\&|A".as_slice(), &[b'x'; 5000]].concat();
        tokio::spawn(async move {
            peer.write_all(&encode(&big)).await.unwrap();
            peer.write_all(&encode(b"next")).await.unwrap();
        });
        let Some(FrameEvent::TooLarge { head, size }) = conn.read_frame().await.unwrap() else {
            panic!("expected TooLarge");
        };
        assert!(head.starts_with(b"MSH|^~\\&|A"));
        assert_eq!(size, 5010);
        assert_eq!(conn.read_frame().await.unwrap(), message(b"next"));
    }

    /// Ensures that silence between frames ends the connection with an idle timeout.
    #[tokio::test(start_paused = true)]
    async fn silence_is_an_idle_timeout() {
        let (mut conn, _peer) = pair();
        let error = conn.read_frame().await.unwrap_err();
        assert!(matches!(error, MllpError::IdleTimeout(d) if d == Duration::from_secs(60)));
    }

    /// Ensures that a sender trickling one byte a second hits the frame timeout.
    #[tokio::test(start_paused = true)]
    async fn trickling_sender_hits_frame_timeout() {
        let (mut conn, mut peer) = pair();
        tokio::spawn(async move {
            peer.write_all(b"\x0b").await.unwrap();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if peer.write_all(b"x").await.is_err() {
                    return;
                }
            }
        });
        let started = Instant::now();
        let error = conn.read_frame().await.unwrap_err();
        assert!(matches!(error, MllpError::FrameTimeout(_)), "{error}");
        assert_eq!(started.elapsed().as_secs(), 30);
    }

    /// Ensures that a close in the middle of a frame is a truncation.
    #[tokio::test]
    async fn eof_mid_frame_is_truncated() {
        let (mut conn, mut peer) = pair();
        peer.write_all(b"\x0bMSH|half").await.unwrap();
        drop(peer);
        let error = conn.read_frame().await.unwrap_err();
        assert!(
            matches!(error, MllpError::Truncated { received: 8 }),
            "{error}"
        );
    }

    /// Ensures that an unterminated oversized frame ends the connection at the hard limit.
    #[tokio::test]
    async fn unterminated_oversized_frame_is_an_error() {
        let (mut conn, mut peer) = pair();
        tokio::spawn(async move {
            peer.write_all(b"\x0b").await.unwrap();
            while peer.write_all(&[b'x'; 1000]).await.is_ok() {}
        });
        let error = conn.read_frame().await.unwrap_err();
        assert!(
            matches!(error, MllpError::OversizedUnterminated { .. }),
            "{error}"
        );
    }

    /// Ensures that a request skips a commit ACK and returns the application reply.
    #[tokio::test]
    async fn request_skips_commit_ack() {
        let (mut client, server) = pair();
        let mut server = Connection::new(server, limits());
        tokio::spawn(async move {
            let Some(FrameEvent::Message(payload)) = server.read_frame().await.unwrap() else {
                panic!("expected a message");
            };
            server.write_commit_ack(true).await.unwrap();
            server
                .write_frame(&[b"ACK:", &payload[..]].concat())
                .await
                .unwrap();
        });
        let reply = client
            .request(b"hello", Duration::from_secs(5), |_| true)
            .await
            .unwrap();
        assert_eq!(&reply[..], b"ACK:hello");
    }

    /// Ensures that a negative commit acknowledgement fails the request.
    #[tokio::test]
    async fn request_fails_on_commit_nak() {
        let (mut client, server) = pair();
        let mut server = Connection::new(server, limits());
        tokio::spawn(async move {
            server.read_frame().await.unwrap();
            server.write_commit_ack(false).await.unwrap();
        });
        let error = client
            .request(b"hello", Duration::from_secs(5), |_| true)
            .await
            .unwrap_err();
        assert!(matches!(error, MllpError::CommitNak), "{error}");
    }

    /// Ensures that a peer that never answers fails the request with a reply timeout.
    #[tokio::test(start_paused = true)]
    async fn request_times_out_without_reply() {
        let (mut client, _server) = pair();
        let error = client
            .request(b"hello", Duration::from_secs(5), |_| true)
            .await
            .unwrap_err();
        assert!(matches!(error, MllpError::ReplyTimeout(_)), "{error}");
    }
}
