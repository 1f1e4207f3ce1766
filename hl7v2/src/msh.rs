//! Reading MSH-1, MSH-2 and MSH-18 straight from raw bytes, before the text is decoded.

use crate::charset::lenient_string;
use crate::delimiters::{DelimiterError, is_delimiter_byte, valid_encoding_prefix};
use crate::index::is_junk;
use crate::{Charset, Delimiters, ParseError, ParseErrorKind};

/// The UTF-8 byte order mark.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The MSH line starting at `start`: up to the first `\r`/`\n` or the end.
pub(crate) fn msh_line(raw: &[u8], start: usize) -> &[u8] {
    let rest = &raw[start..];
    &rest[..memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len())]
}

/// Field `n` (HL7 numbering, `n >= 3`) of an MSH line split on `field`.
pub(crate) fn msh_field(line: &[u8], field: u8, n: usize) -> Option<&[u8]> {
    line.split(|&b| b == field).nth(n - 1)
}

/// Reads the delimiters of the MSH segment that starts at `start`.
///
/// # Errors
/// `NoMsh`, `Truncated`, `BadFieldSeparator` or `BadEncodingCharacters`.
pub(crate) fn read_delimiters(raw: &[u8], start: usize) -> Result<Delimiters, ParseError> {
    let err = |kind, offset| ParseError::new(kind, offset, Some(0));
    let rest = &raw[start..];
    if !rest.starts_with(b"MSH") {
        if b"MSH".starts_with(rest) {
            return Err(err(ParseErrorKind::Truncated, raw.len()));
        }
        return Err(ParseError::new(ParseErrorKind::NoMsh, start, None));
    }
    let Some(&field) = rest.get(3) else {
        return Err(err(ParseErrorKind::Truncated, raw.len()));
    };
    let after = &rest[4..];
    let end = memchr::memchr3(field, b'\r', b'\n', after);
    let msh2 = &after[..end.unwrap_or(after.len())];
    let truncated = end.is_none() && msh2.len() < 4 && valid_encoding_prefix(field, msh2);
    if truncated && is_delimiter_byte(field) {
        return Err(err(ParseErrorKind::Truncated, raw.len()));
    }
    Delimiters::from_msh(field, msh2).map_err(|e| match e {
        DelimiterError::Field => err(
            ParseErrorKind::BadFieldSeparator(char::from(field)),
            start + 3,
        ),
        DelimiterError::Encoding => err(
            ParseErrorKind::BadEncodingCharacters(lenient_string(msh2)),
            start + 4,
        ),
    })
}

/// Reads MSH-18 (its first repetition) from the MSH segment at `start`.
///
/// # Errors
/// `UnsupportedCharset` when MSH-18 names a charset [`Charset::from_msh18`] rejects.
pub(crate) fn declared_charset(
    raw: &[u8],
    start: usize,
    d: &Delimiters,
) -> Result<Option<Charset>, ParseError> {
    let line = msh_line(raw, start);
    let Some(field) = msh_field(line, d.field, 18) else {
        return Ok(None);
    };
    let first = field
        .split(|&b| b == d.repetition)
        .next()
        .unwrap_or_default();
    Charset::from_msh18(&lenient_string(first)).map_err(|name| {
        let offset = field.as_ptr() as usize - raw.as_ptr() as usize;
        ParseError::new(ParseErrorKind::UnsupportedCharset(name), offset, Some(0))
    })
}

/// The 0-based index of the segment holding byte `offset`, for error reports.
pub(crate) fn segment_at(raw: &[u8], start: usize, offset: usize) -> usize {
    let mut segment = 0;
    let mut in_break = false;
    for &b in &raw[start..offset.min(raw.len())] {
        if b == b'\r' || b == b'\n' {
            in_break = true;
        } else if in_break && !is_junk(b) {
            segment += 1;
            in_break = false;
        }
    }
    segment
}
