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

/// One editable segment: its ID and raw (escaped) fields. For MSH, field 1 is the field
/// separator and field 2 the encoding characters, as in [`crate::Segment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSegment {
    id: String,
    fields: Vec<String>,
    terminator: String,
}

impl OwnedSegment {
    pub(crate) fn from_parts(id: String, fields: Vec<String>, terminator: String) -> Self {
        OwnedSegment {
            id,
            fields,
            terminator,
        }
    }

    /// A segment with this ID and no fields.
    pub fn new(id: &str) -> Self {
        OwnedSegment::from_parts(id.to_string(), Vec::new(), String::new())
    }

    /// Splits one segment's ER7 text (without terminator) on `d.field`.
    pub fn parse(line: &str, d: &Delimiters) -> Self {
        let sep = char::from(d.field);
        let mut parts = line.split(sep);
        let id = parts.next().unwrap_or_default().to_string();
        let mut fields: Vec<String> = parts.map(str::to_string).collect();
        if id == "MSH" && !fields.is_empty() {
            fields.insert(0, sep.to_string());
        }
        OwnedSegment::from_parts(id, fields, String::new())
    }

    /// The segment ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The raw fields, field 1 first.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Field `n` (1-based), still escaped.
    pub fn field(&self, n: usize) -> Option<&str> {
        self.fields.get(n.checked_sub(1)?).map(String::as_str)
    }

    /// Sets field `n` (1-based) to raw ER7 text, adding empty fields before it if needed.
    pub fn set_field_raw(&mut self, n: usize, raw: &str) {
        let i = n.max(1) - 1;
        if self.fields.len() <= i {
            self.fields.resize(i + 1, String::new());
        }
        self.fields[i] = raw.to_string();
    }

    /// Sets one repetition, component or subcomponent of field `path.field` to raw text.
    fn set_at(&mut self, path: &Path<'_>, raw: &str, d: &Delimiters) {
        let current = self.field(path.field).unwrap_or_default().to_string();
        let value = replace_part(&current, d.repetition, path.repetition, |rep| {
            let Some(c) = path.component else {
                return raw.to_string();
            };
            replace_part(rep, d.component, c, |comp| match path.subcomponent {
                None => raw.to_string(),
                Some(s) => replace_part(comp, d.subcomponent, s, |_| raw.to_string()),
            })
        });
        self.set_field_raw(path.field, &value);
    }

    /// Writes the segment as ER7 (without terminator).
    pub fn write_er7(&self, d: &Delimiters, out: &mut String) {
        out.push_str(&self.id);
        let mut fields = self.fields.iter();
        if self.id == "MSH" && !self.fields.is_empty() {
            // MSH-1 is the separator itself and MSH-2 follows it directly.
            out.extend(fields.next().map(String::as_str));
            out.extend(fields.next().map(String::as_str));
        }
        for field in fields {
            out.push(char::from(d.field));
            out.push_str(field);
        }
    }
}

/// Replaces part `n` (1-based) of `s` split on `sep`, adding empty parts if needed.
fn replace_part(s: &str, sep: u8, n: usize, f: impl FnOnce(&str) -> String) -> String {
    let sep = char::from(sep);
    let mut parts: Vec<&str> = s.split(sep).collect();
    let replaced = f(parts.get(n - 1).copied().unwrap_or_default());
    if parts.len() < n {
        parts.resize(n, "");
    }
    parts[n - 1] = &replaced;
    parts.join(sep.encode_utf8(&mut [0; 4]))
}

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
        self.segments.iter().find(|s| s.id == id)
    }

    fn position(&self, path: &Path<'_>) -> Option<usize> {
        let mut named = self
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.id == path.segment);
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
        while let Some(i) = self.segments.iter().rposition(|s| s.id == id) {
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
