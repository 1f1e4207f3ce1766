//! [`Message`]: a parsed, borrowed view of one ER7 message.

use std::borrow::Cow;

use crate::charset::{self, Charset};
use crate::index::{Index, skip_junk};
use crate::msh::{self, BOM};
use crate::path::{Path, select};
use crate::{Delimiters, Header, OwnedMessage, ParseError, ParseErrorKind, Segment, unescape};

/// One parsed ER7 message: the raw bytes, the decoded text and a byte index of its
/// segments and fields. Components are split only when asked for.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    raw: &'a [u8],
    text: Cow<'a, str>,
    bom: bool,
    delimiters: Delimiters,
    charset: Charset,
    index: Index,
}

impl<'a> Message<'a> {
    /// Parses one message: checks MSH, reads the delimiters from MSH-1/MSH-2, decodes the
    /// text per MSH-18 and indexes segments and fields. A leading BOM, leading and
    /// trailing whitespace/NULs, blank lines and any mix of `\r`, `\n`, `\r\n` are accepted.
    ///
    /// # Errors
    /// A [`ParseError`] for empty input, a first segment that is not MSH, bad MSH-1/MSH-2,
    /// input that ends inside MSH-2, invalid UTF-8 under a UTF-8 MSH-18, or an
    /// unsupported MSH-18.
    pub fn parse(raw: &'a [u8]) -> Result<Message<'a>, ParseError> {
        if u32::try_from(raw.len()).is_err() {
            return Err(ParseError::new(ParseErrorKind::TooLarge, 0, None));
        }
        let bom = raw.starts_with(BOM);
        let body = if bom { BOM.len() } else { 0 };
        let start = skip_junk(raw, body);
        if start == raw.len() {
            return Err(ParseError::new(ParseErrorKind::Empty, 0, None));
        }
        let delimiters = msh::read_delimiters(raw, start)?;
        let declared = msh::declared_charset(raw, start, &delimiters)?;
        let (text, charset) = charset::decode(&raw[body..], declared).map_err(|at| {
            let offset = body + at;
            let segment = msh::segment_at(raw, start, offset);
            ParseError::new(ParseErrorKind::InvalidUtf8, offset, Some(segment))
        })?;
        let index = Index::build(text.as_bytes(), start - body, delimiters.field);
        Ok(Message {
            raw,
            text,
            bom,
            delimiters,
            charset,
            index,
        })
    }

    /// Parses only the first segment, MSH, for the header's fields (type,
    /// sender, control id, charset) at a fraction of what [`Message::parse`]
    /// costs for the whole message. Leading junk is skipped as there; the
    /// segments after MSH are neither indexed nor checked, and the charset
    /// is judged from MSH alone (see [`crate::charset`] for 8859/1 text that
    /// is really UTF-8).
    ///
    /// # Errors
    /// As [`Message::parse`], for the MSH segment alone.
    pub fn parse_header(raw: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let body = if raw.starts_with(BOM) { BOM.len() } else { 0 };
        let start = skip_junk(raw, body);
        let end = raw[start..]
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .map_or(raw.len(), |at| start + at);
        Message::parse(&raw[..end])
    }

    /// The raw bytes, exactly as given to [`Message::parse`].
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The decoded text, without the BOM (leading and trailing junk included).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the raw bytes start with a UTF-8 BOM.
    pub fn has_bom(&self) -> bool {
        self.bom
    }

    /// The delimiters declared in MSH-1 and MSH-2.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// The charset the text was decoded with (see [`crate::charset`] for the rules).
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// The terminator after the first segment: `"\r"`, `"\n"` or `"\r\n"`.
    ///
    /// By default (a single segment without a terminator) this is `"\r"`.
    pub fn terminator(&self) -> &'static str {
        let end = *self.index.segment_bounds(0).last().unwrap_or(&0) as usize;
        match self.text.as_bytes().get(end..end + 2) {
            Some(b"\r\n") => "\r\n",
            _ if self.text.as_bytes().get(end) == Some(&b'\n') => "\n",
            _ => "\r",
        }
    }

    /// The number of segments.
    pub fn segment_count(&self) -> usize {
        self.index.spans.len()
    }

    /// The segment at 0-based position `i` (0 is MSH).
    pub fn segment_at(&self, i: usize) -> Option<Segment<'_>> {
        let span = self.index.spans.get(i)?;
        Some(Segment::new(
            &self.text,
            span.start as usize,
            self.index.segment_bounds(i),
            &self.delimiters,
        ))
    }

    /// All segments in order.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> {
        (0..self.segment_count()).filter_map(|i| self.segment_at(i))
    }

    /// The first segment with this ID.
    pub fn segment(&self, id: &str) -> Option<Segment<'_>> {
        self.segments().find(|s| s.id() == id)
    }

    /// Every segment with this ID, in order.
    pub fn segments_named<'s>(&'s self, id: &'s str) -> impl Iterator<Item = Segment<'s>> {
        self.segments().filter(move |s| s.id() == id)
    }

    /// The text at a terser-style path, still escaped; `None` when the path is invalid,
    /// absent or empty.
    pub fn get_raw(&self, path: &str) -> Option<&str> {
        self.locate(&Path::parse(path).ok()?)
    }

    /// The decoded text (escapes resolved) at a terser-style path; `None` when the path
    /// is invalid, absent or empty. MSH-1 and MSH-2 are returned literally.
    pub fn get(&self, path: &str) -> Option<Cow<'_, str>> {
        let path = Path::parse(path).ok()?;
        let raw = self.locate(&path)?;
        if path.is_msh_literal() {
            return Some(Cow::Borrowed(raw));
        }
        Some(unescape(raw, &self.delimiters))
    }

    /// The raw, non-empty text a parsed path selects.
    pub fn locate(&self, path: &Path<'_>) -> Option<&str> {
        let segment = self
            .segments()
            .filter(|s| s.id() == path.segment)
            .nth(path.segment_repetition - 1)?;
        let field = segment.field(path.field)?;
        select(field.raw(), &self.delimiters, path).filter(|v| !v.is_empty())
    }

    /// Typed accessors for the MSH segment.
    pub fn header(&self) -> Header<'_> {
        let msh = self
            .segment_at(0)
            .expect("a parsed message starts with MSH");
        Header::new(msh, self.charset)
    }

    /// An editable copy that re-encodes to the same bytes.
    pub fn to_owned_message(&self) -> OwnedMessage {
        let first = self.index.spans[0].start as usize;
        let segments = (0..self.segment_count())
            .filter_map(|i| {
                let segment = self.segment_at(i)?;
                let end = segment.end();
                let terminator = &self.text[end..self.index.terminator_end(i, self.text.len())];
                Some(segment.to_owned_segment(terminator))
            })
            .collect();
        OwnedMessage::from_parts(
            self.delimiters,
            self.charset,
            self.bom,
            self.text[..first].to_string(),
            segments,
            self.terminator(),
        )
    }
}
