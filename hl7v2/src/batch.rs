//! Batch files (`FHS BHS {MSH ...} BTS FTS`) split into messages.
//!
//! Lines are classified by their first three bytes (after junk such as blank lines):
//! `MSH` starts a message; `FHS`/`BHS` before the first message form the header;
//! `BTS`/`FTS` (and any `FHS`/`BHS` of a nested batch) end the current message; any other
//! line belongs to the current message. Trailers are optional: a batch cut off after its
//! last message still yields every message. A plain message is a batch of one.

use crate::index::skip_junk;
use crate::msh::BOM;
use crate::{ParseError, ParseErrorKind};

/// One batch file split into its parts; every slice borrows the input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batch<'a> {
    /// The bytes before the first message (BOM, FHS and BHS lines), if there is an
    /// FHS or BHS.
    pub header: Option<&'a [u8]>,
    /// Each message's bytes, from its MSH through its last segment's terminator.
    /// Without a header, the first message starts at byte 0 (BOM included).
    pub messages: Vec<&'a [u8]>,
    /// The bytes from the first BTS or FTS after the last message to the end, if any.
    pub trailer: Option<&'a [u8]>,
}

/// What a line's segment ID makes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Message,
    Header,
    Trailer,
    Other,
}

fn classify(line: &[u8]) -> Line {
    let id_ends = line.get(3).is_none_or(|b| !b.is_ascii_alphanumeric());
    match line.get(..3) {
        Some(b"MSH") if id_ends => Line::Message,
        Some(b"FHS" | b"BHS") if id_ends => Line::Header,
        Some(b"BTS" | b"FTS") if id_ends => Line::Trailer,
        _ => Line::Other,
    }
}

/// Splits a batch file (or a single message) into messages.
///
/// # Errors
/// [`ParseErrorKind::Empty`] when there is nothing but junk; [`ParseErrorKind::NoMsh`]
/// when the first line is neither MSH, FHS nor BHS.
pub fn split_batch(raw: &[u8]) -> Result<Batch<'_>, ParseError> {
    let body = if raw.starts_with(BOM) { BOM.len() } else { 0 };
    let mut batch = Batch::default();
    let mut message_start: Option<usize> = None;
    let mut saw_header = false;
    let mut pos = skip_junk(raw, body);
    if pos == raw.len() {
        return Err(ParseError::new(ParseErrorKind::Empty, 0, None));
    }
    while pos < raw.len() {
        let rest = &raw[pos..];
        let kind = classify(rest);
        if kind != Line::Other
            && let Some(start) = message_start.take()
        {
            batch.messages.push(&raw[start..pos]);
        }
        match kind {
            Line::Message if batch.messages.is_empty() && !saw_header => message_start = Some(0),
            Line::Message => message_start = Some(pos),
            Line::Header if batch.messages.is_empty() => {
                saw_header = true;
                batch.header = Some(&raw[..skip_line(raw, pos)]);
            }
            Line::Trailer if batch.trailer.is_none() => batch.trailer = Some(&raw[pos..]),
            Line::Other if message_start.is_none() && batch.messages.is_empty() => {
                return Err(ParseError::new(ParseErrorKind::NoMsh, pos, None));
            }
            _ => {}
        }
        if kind == Line::Message && batch.trailer.is_some() {
            batch.trailer = None;
        }
        pos = skip_line(raw, pos);
    }
    if let Some(start) = message_start {
        batch.messages.push(&raw[start..]);
    }
    Ok(batch)
}

/// Whether `raw` starts (after a BOM and junk) with an FHS or BHS segment:
/// a batch, which [`split_batch`] splits, rather than one message. Reads
/// only the first line.
pub fn starts_batch(raw: &[u8]) -> bool {
    let body = if raw.starts_with(BOM) { BOM.len() } else { 0 };
    classify(&raw[skip_junk(raw, body)..]) == Line::Header
}

impl Batch<'_> {
    /// The header's `FHS` or `BHS` line (the first, for a nested batch),
    /// without its terminator; `None` when the header has no such line.
    pub fn header_segment(&self, id: &str) -> Option<&[u8]> {
        self.header?
            .split(|&b| b == b'\r' || b == b'\n')
            .map(|line| &line[skip_junk(line, 0)..])
            .find(|line| line.starts_with(id.as_bytes()) && classify(line) == Line::Header)
    }
}

/// The start of the next line after the one at `pos` (junk skipped).
fn skip_line(raw: &[u8], pos: usize) -> usize {
    let end = memchr::memchr2(b'\r', b'\n', &raw[pos..]).map_or(raw.len(), |i| pos + i);
    skip_junk(raw, end)
}
