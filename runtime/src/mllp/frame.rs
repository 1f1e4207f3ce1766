//! MLLP blocks in a byte buffer: [`FrameDecoder`] turns buffered bytes into [`FrameEvent`]s.
//!
//! The decoder scans before it allocates: a complete message is split off the buffer
//! without a copy, and bytes are only kept while a block can still fit the size limit.
//! A decoder carries state between calls (how far it has scanned, an oversized message
//! being discarded, a `CR` still owed after `FS`), so one decoder serves one connection.

use bytes::{Buf, Bytes, BytesMut};

use super::{MllpError, MllpLimits};

/// Start of block, `VT`.
pub const START_BLOCK: u8 = 0x0B;
/// End of block, `FS`.
pub const END_BLOCK: u8 = 0x1C;
/// The carriage return that follows `FS`.
pub const CARRIAGE_RETURN: u8 = 0x0D;
/// The payload of an MLLP release 2 commit acknowledgement.
pub const COMMIT_ACK: u8 = 0x06;
/// The payload of an MLLP release 2 negative commit acknowledgement.
pub const COMMIT_NAK: u8 = 0x15;
/// How much of an oversized message is kept: enough for any sane MSH segment.
pub const HEAD_BYTES: usize = 4096;

/// What the decoder found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEvent {
    /// A complete message, without the framing bytes.
    Message(Bytes),
    /// An MLLP release 2 commit acknowledgement: `true` for ACK, `false` for NAK.
    CommitAck(bool),
    /// A message larger than the limit was dropped.
    TooLarge {
        /// The first [`HEAD_BYTES`] of the message, for building an AR.
        head: Bytes,
        /// The full size of the message in bytes.
        size: usize,
    },
    /// Bytes outside any block were dropped.
    Junk(usize),
}

/// Where the decoder is within the stream.
#[derive(Debug)]
enum State {
    /// Between blocks, looking for `VT`.
    Seeking,
    /// The buffer starts with `VT`; `buffer[1..scanned]` holds neither `FS` nor `VT`.
    InBlock { scanned: usize },
    /// An oversized message is being dropped until `FS`.
    Discarding { head: Bytes, size: usize },
}

/// Turns a connection's buffered bytes into [`FrameEvent`]s.
#[derive(Debug)]
pub struct FrameDecoder {
    state: State,
    max_message_bytes: usize,
    oversized_limit: usize,
    /// Junk dropped while seeking, reported when a block starts or the stream ends.
    junk: usize,
    /// The last block ended at the end of the buffer; a `CR` that comes next is its.
    owes_cr: bool,
}

impl FrameDecoder {
    /// A decoder that enforces the size limits in `limits`.
    pub fn new(limits: &MllpLimits) -> Self {
        FrameDecoder {
            state: State::Seeking,
            max_message_bytes: limits.max_message_bytes,
            oversized_limit: limits.oversized_limit(),
            junk: 0,
            owes_cr: false,
        }
    }

    /// Whether part of a block (or junk) has been read: the frame timeout applies, not
    /// the idle timeout.
    pub fn in_progress(&self, buffer: &BytesMut) -> bool {
        !buffer.is_empty() || self.junk > 0 || !matches!(self.state, State::Seeking)
    }

    /// The next event in `buffer`, consuming its bytes; `Ok(None)` when more bytes are
    /// needed, which is not an error.
    ///
    /// # Errors
    ///
    /// [`MllpError::Unframed`] or [`MllpError::OversizedUnterminated`] when the bytes
    /// seen without a start or end of block pass the oversized limit.
    pub fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<FrameEvent>, MllpError> {
        if self.owes_cr && !buffer.is_empty() {
            self.owes_cr = false;
            if buffer[0] == CARRIAGE_RETURN {
                buffer.advance(1);
            }
        }
        match &mut self.state {
            State::Seeking => self.seek(buffer),
            State::InBlock { .. } => self.scan(buffer),
            State::Discarding { .. } => self.discard(buffer),
        }
    }

    /// What the end of the stream means for the bytes still held.
    ///
    /// # Errors
    ///
    /// [`MllpError::Truncated`] when the stream ends inside a block.
    pub fn finish(&mut self, buffer: &mut BytesMut) -> Result<Option<FrameEvent>, MllpError> {
        let received = match &self.state {
            State::Seeking => {
                let junk = std::mem::take(&mut self.junk) + buffer.len();
                buffer.clear();
                return Ok((junk > 0).then_some(FrameEvent::Junk(junk)));
            }
            State::InBlock { .. } => buffer.len() - 1,
            State::Discarding { size, .. } => *size + buffer.len(),
        };
        Err(MllpError::Truncated { received })
    }

    /// Drops bytes up to the next `VT`.
    fn seek(&mut self, buffer: &mut BytesMut) -> Result<Option<FrameEvent>, MllpError> {
        let Some(start) = buffer.iter().position(|&b| b == START_BLOCK) else {
            self.junk += buffer.len();
            buffer.clear();
            if self.junk > self.oversized_limit {
                return Err(MllpError::Unframed { skipped: self.junk });
            }
            return Ok(None);
        };
        buffer.advance(start);
        self.junk += start;
        self.state = State::InBlock { scanned: 1 };
        if self.junk > 0 {
            return Ok(Some(FrameEvent::Junk(std::mem::take(&mut self.junk))));
        }
        self.scan(buffer)
    }

    /// Looks for the end of the block that starts the buffer.
    fn scan(&mut self, buffer: &mut BytesMut) -> Result<Option<FrameEvent>, MllpError> {
        let State::InBlock { scanned } = &mut self.state else {
            unreachable!("scan runs only inside a block");
        };
        let found = buffer[*scanned..]
            .iter()
            .position(|&b| b == END_BLOCK || b == START_BLOCK)
            .map(|i| i + *scanned);
        match found {
            // A new block began before this one ended: what came before it is junk.
            Some(end) if buffer[end] == START_BLOCK => {
                buffer.advance(end);
                self.state = State::InBlock { scanned: 1 };
                Ok(Some(FrameEvent::Junk(end)))
            }
            Some(end) => {
                let block = buffer.split_to(end + 1).freeze();
                self.end_block(buffer);
                Ok(Some(self.event(block.slice(1..end))))
            }
            None if buffer.len() - 1 > self.max_message_bytes => {
                let head = Bytes::copy_from_slice(&buffer[1..=HEAD_BYTES.min(buffer.len() - 1)]);
                let size = buffer.len() - 1;
                buffer.clear();
                self.state = State::Discarding { head, size };
                self.check_oversized(size)
            }
            None => {
                *scanned = buffer.len();
                Ok(None)
            }
        }
    }

    /// Drops the rest of an oversized message up to `FS`.
    fn discard(&mut self, buffer: &mut BytesMut) -> Result<Option<FrameEvent>, MllpError> {
        let State::Discarding { head, size } = &mut self.state else {
            unreachable!("discard runs only on an oversized message");
        };
        let Some(end) = buffer.iter().position(|&b| b == END_BLOCK) else {
            *size += buffer.len();
            buffer.clear();
            let size = *size;
            return self.check_oversized(size);
        };
        let event = FrameEvent::TooLarge {
            head: std::mem::take(head),
            size: *size + end,
        };
        buffer.advance(end + 1);
        self.end_block(buffer);
        Ok(Some(event))
    }

    /// Fails once an unterminated oversized message passes the hard limit.
    fn check_oversized(&self, received: usize) -> Result<Option<FrameEvent>, MllpError> {
        if received > self.oversized_limit {
            return Err(MllpError::OversizedUnterminated { received });
        }
        Ok(None)
    }

    /// After `FS`: takes the `CR`, or remembers to take it from the next read.
    fn end_block(&mut self, buffer: &mut BytesMut) {
        self.state = State::Seeking;
        match buffer.first() {
            Some(&CARRIAGE_RETURN) => buffer.advance(1),
            Some(_) => {}
            None => self.owes_cr = true,
        }
    }

    /// A complete block's payload as an event.
    fn event(&self, payload: Bytes) -> FrameEvent {
        if payload.len() > self.max_message_bytes {
            let head = payload.slice(..HEAD_BYTES.min(payload.len()));
            return FrameEvent::TooLarge {
                head,
                size: payload.len(),
            };
        }
        match payload[..] {
            [COMMIT_ACK] => FrameEvent::CommitAck(true),
            [COMMIT_NAK] => FrameEvent::CommitAck(false),
            _ => FrameEvent::Message(payload),
        }
    }
}

/// `payload` wrapped in a block: `VT payload FS CR`.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::with_capacity(payload.len() + 3);
    block.push(START_BLOCK);
    block.extend_from_slice(payload);
    block.extend_from_slice(&[END_BLOCK, CARRIAGE_RETURN]);
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"MSH|^~\\&|LAB|HOSP|||20240101||ORU^R01|42|P|2.5\rPID|1\r";

    fn limits(max: usize) -> MllpLimits {
        MllpLimits {
            max_message_bytes: max,
            max_oversized_bytes: Some(max * 4),
            ..MllpLimits::default()
        }
    }

    /// Feeds `chunks` one at a time and collects every event.
    fn decode_all(decoder: &mut FrameDecoder, chunks: &[&[u8]]) -> Vec<FrameEvent> {
        let mut buffer = BytesMut::new();
        let mut events = Vec::new();
        for chunk in chunks {
            buffer.extend_from_slice(chunk);
            while let Some(event) = decoder.decode(&mut buffer).unwrap() {
                events.push(event);
            }
        }
        events.extend(decoder.finish(&mut buffer).unwrap());
        events
    }

    fn message(payload: &[u8]) -> FrameEvent {
        FrameEvent::Message(Bytes::copy_from_slice(payload))
    }

    /// Ensures that a block split at any byte boundary decodes to the same message.
    #[test]
    fn split_reads_at_every_boundary() {
        let wire = [encode(MSG), encode(b"second")].concat();
        for cut in 0..=wire.len() {
            let mut decoder = FrameDecoder::new(&limits(1024));
            let events = decode_all(&mut decoder, &[&wire[..cut], &wire[cut..]]);
            assert_eq!(events, [message(MSG), message(b"second")], "cut at {cut}");
        }
    }

    /// Ensures that a block fed one byte at a time decodes to one message.
    #[test]
    fn byte_at_a_time() {
        let wire = encode(MSG);
        let chunks: Vec<&[u8]> = wire.chunks(1).collect();
        let events = decode_all(&mut FrameDecoder::new(&limits(1024)), &chunks);
        assert_eq!(events, [message(MSG)]);
    }

    /// Ensures that bytes before the start block are dropped and counted.
    #[test]
    fn junk_before_start_block_is_counted() {
        let wire = [b"\r\nhello".as_slice(), &encode(MSG), b"\n", &encode(b"b")].concat();
        let events = decode_all(&mut FrameDecoder::new(&limits(1024)), &[&wire]);
        let expected = [
            FrameEvent::Junk(7),
            message(MSG),
            FrameEvent::Junk(1),
            message(b"b"),
        ];
        assert_eq!(events, expected);
    }

    /// Ensures that junk at the end of the stream is reported before the close.
    #[test]
    fn trailing_junk_is_counted() {
        let wire = [encode(MSG).as_slice(), b"xyz"].concat();
        let events = decode_all(
            &mut FrameDecoder::new(&limits(1024)),
            &[&wire[..4], &wire[4..]],
        );
        assert_eq!(events, [message(MSG), FrameEvent::Junk(3)]);
    }

    /// Ensures that a block without its final CR ends at FS, whatever follows.
    #[test]
    fn missing_final_cr_is_accepted() {
        let wire = [b"\x0bone\x1c".as_slice(), b"\x0btwo\x1c", b"\x0bthree\x1c"].concat();
        let events = decode_all(&mut FrameDecoder::new(&limits(1024)), &[&wire]);
        assert_eq!(
            events,
            [message(b"one"), message(b"two"), message(b"three")]
        );
    }

    /// Ensures that a CR arriving in the read after FS is consumed, not counted as junk.
    #[test]
    fn late_cr_is_consumed() {
        let events = decode_all(
            &mut FrameDecoder::new(&limits(1024)),
            &[b"\x0bone\x1c", b"\r", b"\x0btwo\x1c\r"],
        );
        assert_eq!(events, [message(b"one"), message(b"two")]);
    }

    /// Ensures that several blocks in one read come out in order.
    #[test]
    fn back_to_back_blocks_in_one_read() {
        let wire = [encode(b"a"), encode(b"bb"), encode(b"ccc")].concat();
        let events = decode_all(&mut FrameDecoder::new(&limits(1024)), &[&wire]);
        assert_eq!(events, [message(b"a"), message(b"bb"), message(b"ccc")]);
    }

    /// Ensures that a block cut short by a new start block is junk and the new block is read.
    #[test]
    fn restarted_block_drops_partial() {
        let wire = [b"\x0bpartial".as_slice(), &encode(MSG)].concat();
        let events = decode_all(&mut FrameDecoder::new(&limits(1024)), &[&wire]);
        assert_eq!(events, [FrameEvent::Junk(8), message(MSG)]);
    }

    /// Ensures that commit acknowledgement blocks are recognised.
    #[test]
    fn commit_acks_are_recognised() {
        let wire = [encode(&[COMMIT_ACK]), encode(&[COMMIT_NAK])].concat();
        let events = decode_all(&mut FrameDecoder::new(&limits(1024)), &[&wire]);
        assert_eq!(
            events,
            [FrameEvent::CommitAck(true), FrameEvent::CommitAck(false)]
        );
    }

    /// Ensures that an oversized block is not buffered, keeps its head, and the next block
    /// still decodes, whether it arrives whole or in small reads.
    #[test]
    fn oversized_block_keeps_head_and_recovers() {
        let big = [MSG, &vec![b'x'; 20_000]].concat();
        let wire = [encode(&big), encode(b"next")].concat();
        for chunk_size in [wire.len(), 1000, 7] {
            let mut decoder = FrameDecoder::new(&limits(10_000));
            let mut buffer = BytesMut::new();
            let mut events = Vec::new();
            for chunk in wire.chunks(chunk_size) {
                buffer.extend_from_slice(chunk);
                while let Some(event) = decoder.decode(&mut buffer).unwrap() {
                    events.push(event);
                }
                assert!(buffer.len() <= 10_000 + chunk_size + 1);
            }
            let head = Bytes::copy_from_slice(&big[..HEAD_BYTES]);
            let too_large = FrameEvent::TooLarge {
                head,
                size: big.len(),
            };
            assert_eq!(
                events,
                [too_large, message(b"next")],
                "chunks of {chunk_size}"
            );
        }
    }

    /// Ensures that an oversized block with no end fails once past the hard limit.
    #[test]
    fn oversized_without_end_hits_hard_limit() {
        let mut decoder = FrameDecoder::new(&limits(100));
        let mut buffer = BytesMut::from(&b"\x0b"[..]);
        let mut result = Ok(None);
        for _ in 0..10 {
            buffer.extend_from_slice(&[b'x'; 100]);
            result = decoder.decode(&mut buffer);
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(
            result,
            Err(MllpError::OversizedUnterminated { received: 500 })
        ));
    }

    /// Ensures that a stream of bytes with no start block fails once past the hard limit.
    #[test]
    fn endless_junk_hits_hard_limit() {
        let mut decoder = FrameDecoder::new(&limits(100));
        let mut buffer = BytesMut::from(&[b'x'; 401][..]);
        assert!(matches!(
            decoder.decode(&mut buffer),
            Err(MllpError::Unframed { skipped: 401 })
        ));
    }

    /// Ensures that the end of the stream inside a block is a truncation with its size.
    #[test]
    fn eof_inside_block_is_truncated() {
        let mut decoder = FrameDecoder::new(&limits(1024));
        let mut buffer = BytesMut::from(&b"\x0bMSH|abc"[..]);
        assert_eq!(decoder.decode(&mut buffer).unwrap(), None);
        assert!(matches!(
            decoder.finish(&mut buffer),
            Err(MllpError::Truncated { received: 7 })
        ));
    }
}
