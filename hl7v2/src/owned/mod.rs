//! [`OwnedMessage`]: an editable message that re-encodes with the original delimiters,
//! terminators and charset.
//!
//! Every segment keeps the exact bytes that followed it (its terminator, blank lines and,
//! for the last one, any trailing junk), and the message keeps its BOM and leading junk,
//! so an unedited copy re-encodes byte for byte. A segment added later gets the
//! message's terminator (that of its first segment; by default `\r`).

use std::borrow::Cow;

use crate::charset::Charset;
use crate::msh::BOM;
use crate::path::{Path, PathError, select};
use crate::{Delimiters, Message, ParseError, escape, unescape};

mod segment;

pub use segment::OwnedSegment;

/// An editable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedMessage {
    delimiters: Delimiters,
    charset: Charset,
    bom: bool,
    prefix: String,
    segments: Vec<OwnedSegment>,
    terminator: &'static str,
}

impl OwnedMessage {
    pub(crate) fn from_parts(
        delimiters: Delimiters,
        charset: Charset,
        bom: bool,
        prefix: String,
        segments: Vec<OwnedSegment>,
        terminator: &'static str,
    ) -> Self {
        OwnedMessage {
            delimiters,
            charset,
            bom,
            prefix,
            segments,
            terminator,
        }
    }

    /// Parses raw bytes into an editable message (see [`Message::parse`]).
    ///
    /// # Errors
    /// As [`Message::parse`].
    pub fn parse(raw: &[u8]) -> Result<OwnedMessage, ParseError> {
        Ok(Message::parse(raw)?.to_owned_message())
    }

    /// The message's delimiters.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// The charset [`OwnedMessage::to_bytes`] encodes with.
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// The terminator given to added segments.
    pub fn terminator(&self) -> &'static str {
        self.terminator
    }

    /// All segments in order.
    pub fn segments(&self) -> &[OwnedSegment] {
        &self.segments
    }

    /// All segments, editable in place.
    pub fn segments_mut(&mut self) -> &mut [OwnedSegment] {
        &mut self.segments
    }

    /// The first segment with this ID.
    pub fn segment(&self, id: &str) -> Option<&OwnedSegment> {
        self.segments.iter().find(|s| s.id() == id)
    }

    fn position(&self, path: &Path<'_>) -> Option<usize> {
        let mut named = self
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.id() == path.segment);
        named.nth(path.segment_repetition - 1).map(|(i, _)| i)
    }

    /// The raw text at a terser-style path; `None` when invalid, absent or empty.
    pub fn get_raw(&self, path: &str) -> Option<&str> {
        let path = Path::parse(path).ok()?;
        let field = self.segments[self.position(&path)?].field(path.field)?;
        select(field, &self.delimiters, &path).filter(|v| !v.is_empty())
    }

    /// The decoded text at a terser-style path; `None` when invalid, absent or empty.
    pub fn get(&self, path: &str) -> Option<Cow<'_, str>> {
        let raw = self.get_raw(path)?;
        let literal = Path::parse(path).is_ok_and(|p| p.is_msh_literal());
        Some(if literal {
            Cow::Borrowed(raw)
        } else {
            unescape(raw, &self.delimiters)
        })
    }

    /// Sets the text at a path, escaping it with the message's delimiters.
    ///
    /// # Errors
    /// [`PathError`] for an invalid path, a missing segment, or MSH-1/MSH-2.
    pub fn set(&mut self, path: &str, value: &str) -> Result<(), PathError> {
        let raw = escape(value, &self.delimiters);
        self.set_raw(path, &raw)
    }

    /// Sets raw (already escaped) ER7 text at a path; missing fields, repetitions and
    /// components are added empty.
    ///
    /// # Errors
    /// [`PathError`] for an invalid path, a missing segment, or MSH-1/MSH-2.
    pub fn set_raw(&mut self, path: &str, raw: &str) -> Result<(), PathError> {
        let parsed = Path::parse(path)?;
        if parsed.is_msh_literal() {
            return Err(PathError::ReadOnly);
        }
        let i = self
            .position(&parsed)
            .ok_or_else(|| PathError::NoSuchSegment(path.to_string()))?;
        let delimiters = self.delimiters;
        self.segments[i].set_at(&parsed, raw, &delimiters);
        Ok(())
    }

    /// Appends a segment; it takes over what followed the old last segment (so a file
    /// without a final terminator still has none), and the old last gets the terminator.
    pub fn push_segment(&mut self, mut segment: OwnedSegment) {
        match self.segments.last_mut() {
            Some(last) => {
                segment.terminator =
                    std::mem::replace(&mut last.terminator, self.terminator.into());
            }
            None => segment.terminator = self.terminator.to_string(),
        }
        self.segments.push(segment);
    }

    /// Inserts a segment at 0-based `index` (appends when `index` is past the end).
    pub fn insert_segment(&mut self, index: usize, mut segment: OwnedSegment) {
        if index >= self.segments.len() {
            return self.push_segment(segment);
        }
        segment.terminator = self.terminator.to_string();
        self.segments.insert(index, segment);
    }

    /// Removes the segment at 0-based `index`; the new last segment inherits the removed
    /// last one's trailing bytes.
    pub fn remove_segment(&mut self, index: usize) -> Option<OwnedSegment> {
        if index >= self.segments.len() {
            return None;
        }
        let mut removed = self.segments.remove(index);
        if index == self.segments.len()
            && let Some(last) = self.segments.last_mut()
        {
            std::mem::swap(&mut last.terminator, &mut removed.terminator);
        }
        Some(removed)
    }

    /// Removes every segment with this ID; returns how many were removed.
    pub fn remove_segments(&mut self, id: &str) -> usize {
        let mut removed = 0;
        while let Some(i) = self.segments.iter().rposition(|s| s.id() == id) {
            self.remove_segment(i);
            removed += 1;
        }
        removed
    }

    /// The message as ER7 text: BOM, leading junk, segments and terminators as parsed.
    pub fn to_er7(&self) -> String {
        let mut out = String::new();
        if self.bom {
            out.push('\u{FEFF}');
        }
        out.push_str(&self.body());
        out
    }

    /// The message as bytes in its charset (see [`Charset::encode`]); equal to the parsed
    /// input when nothing was edited.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = self.body();
        let mut out = Vec::with_capacity(body.len() + BOM.len());
        if self.bom {
            out.extend_from_slice(BOM);
        }
        out.extend_from_slice(&self.charset.encode(&body));
        out
    }

    fn body(&self) -> String {
        let mut out = self.prefix.clone();
        for segment in &self.segments {
            segment.write_er7(&self.delimiters, &mut out);
            out.push_str(&segment.terminator);
        }
        out
    }
}
