//! MSH-18 character sets and decoding raw bytes to text.
//!
//! Decoding rules, in order:
//! - `UNICODE UTF-8` (also `UTF-8`, `UNICODE`): the bytes must be valid UTF-8, otherwise
//!   [`ParseErrorKind::InvalidUtf8`](crate::ParseErrorKind::InvalidUtf8) at the first bad byte.
//! - `8859/1`: each byte is one char (U+0000..U+00FF), **except** when the bytes are
//!   valid UTF-8 and contain multibyte sequences: senders often label UTF-8 as 8859/1
//!   (every non-ASCII byte in the shared corpus is such a case), and Latin-1 text
//!   almost never happens to be valid UTF-8, so the text is then read as UTF-8.
//! - `ASCII`, empty or absent: UTF-8 when valid, otherwise Latin-1.
//! - anything else: [`ParseErrorKind::UnsupportedCharset`](crate::ParseErrorKind::UnsupportedCharset).
//!
//! The charset actually used is kept, so that re-encoding reproduces the raw bytes.

use std::borrow::Cow;

/// A character set this crate decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// US-ASCII (`ASCII`).
    Ascii,
    /// ISO 8859-1 (`8859/1`): one byte per char.
    Latin1,
    /// UTF-8 (`UNICODE UTF-8`).
    Utf8,
}

impl Charset {
    /// Reads an MSH-18 value (first repetition, case-insensitive, trimmed).
    ///
    /// Returns `Ok(None)` for an empty value and `Err(value)` for an unknown one.
    pub fn from_msh18(value: &str) -> Result<Option<Charset>, String> {
        let v = value.trim();
        if v.is_empty() {
            return Ok(None);
        }
        let upper = v.to_ascii_uppercase();
        match upper.as_str() {
            "ASCII" | "US-ASCII" => Ok(Some(Charset::Ascii)),
            "8859/1" | "ISO-8859-1" | "ISO8859-1" | "ISO_8859-1" | "LATIN1" => {
                Ok(Some(Charset::Latin1))
            }
            // Plain "UNICODE" is ambiguous in table 0211; in an ER7 byte stream it is UTF-8.
            "UNICODE UTF-8" | "UTF-8" | "UTF8" | "UNICODE" => Ok(Some(Charset::Utf8)),
            _ => Err(v.to_string()),
        }
    }

    /// The MSH-18 code for this charset (`ASCII`, `8859/1`, `UNICODE UTF-8`).
    pub fn code(self) -> &'static str {
        match self {
            Charset::Ascii => "ASCII",
            Charset::Latin1 => "8859/1",
            Charset::Utf8 => "UNICODE UTF-8",
        }
    }

    /// Encodes text in this charset; chars that Latin-1 or ASCII cannot hold become `?`.
    pub fn encode(self, text: &str) -> Cow<'_, [u8]> {
        match self {
            Charset::Utf8 => Cow::Borrowed(text.as_bytes()),
            _ if text.is_ascii() => Cow::Borrowed(text.as_bytes()),
            Charset::Latin1 => Cow::Owned(
                text.chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                    .collect(),
            ),
            // An ASCII-declared message with non-ASCII text was decoded as UTF-8 or
            // Latin-1; `decode` never yields `Ascii` for it, so this arm is for callers.
            Charset::Ascii => Cow::Owned(
                text.chars()
                    .map(|c| if c.is_ascii() { c as u8 } else { b'?' })
                    .collect(),
            ),
        }
    }
}

/// Decodes `bytes` under the declared charset; see the module docs for the rules.
///
/// Returns the text and the charset actually used, or the offset of the first byte
/// that is not valid UTF-8 when UTF-8 is declared.
pub(crate) fn decode(
    bytes: &[u8],
    declared: Option<Charset>,
) -> Result<(Cow<'_, str>, Charset), usize> {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let used = match declared {
                Some(Charset::Utf8) | None => Charset::Utf8,
                Some(other) if text.is_ascii() => other,
                Some(_) => Charset::Utf8,
            };
            Ok((Cow::Borrowed(text), used))
        }
        Err(e) if declared == Some(Charset::Utf8) => Err(e.valid_up_to()),
        Err(_) => Ok((Cow::Owned(latin1_to_string(bytes)), Charset::Latin1)),
    }
}

/// Maps each byte to the char with the same code point.
pub(crate) fn latin1_to_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// UTF-8 when valid, otherwise Latin-1: for fields read without a trusted charset.
pub(crate) fn lenient_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => latin1_to_string(bytes),
    }
}
